/**
 * Option choices the CLI shows in --help and checks while parsing. Copies of the domain's lists
 * (DRIVER_NAMES, TOKEN_ROLES), kept here so that parsing a command line never loads the domain
 * (zod, SQLite, the logger: most of a CLI call's start-up); choices.test.ts holds them equal.
 */
export const DRIVER_CHOICES = ['btrfs', 'reflink', 'copy'] as const;
export const TOKEN_ROLE_CHOICES = ['read', 'write', 'admin'] as const;
