/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export const up = (pgm) => {
  pgm.createTable('posts', {
    id: 'id',
    author_id: { type: 'integer', notNull: true, references: 'authors', onDelete: 'CASCADE' },
    title: { type: 'text', notNull: true },
    published: { type: 'boolean', notNull: true, default: false },
  });
  pgm.createIndex('posts', 'author_id');
};

export const down = (pgm) => {
  pgm.dropTable('posts');
};
