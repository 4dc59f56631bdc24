/**
 * Migration history tables of common tools, by table name, with the column that names a
 * migration. They merge like data, by that name: the same migration applied on both sides is
 * one row, not a conflict, and different migrations applied on each side are both kept (a
 * serial key both sides handed out again is renumbered).
 */
const HISTORY_TABLES: Readonly<Record<string, string>> = {
  _prisma_migrations: 'migration_name',
  flyway_schema_history: 'script',
  pgmigrations: 'name',
  alembic_version: 'version_num',
  schema_migrations: 'version',
  knex_migrations: 'name',
  __drizzle_migrations: 'hash',
  migrations: 'name',
  SequelizeMeta: 'name',
  goose_db_version: 'version_id',
  kysely_migration: 'name',
  __EFMigrationsHistory: 'MigrationId',
};

/** The column naming a migration if `table` (with these columns) is a migration history table. */
export function historyNameColumn(table: string, columns: readonly string[]): string | undefined {
  const column = HISTORY_TABLES[table];
  return column !== undefined && columns.includes(column) ? column : undefined;
}
