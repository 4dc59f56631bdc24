import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { PlainDumpFilter, scanLine } from './plain-dump-filter.js';

async function filter(sql: string, chunkSize = 7): Promise<{ out: string; dropped: number }> {
  const f = new PlainDumpFilter();
  const bytes = Buffer.from(sql);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const out = await text(Readable.from(chunks).pipe(f));
  return { out, dropped: f.dropped };
}

const DUMP = `--
-- Name: orders; Type: TABLE; Schema: public; Owner: app_prod
--

CREATE TABLE public.orders (
    id bigint NOT NULL,
    note text DEFAULT 'GRANT ALL;'::text
);


ALTER TABLE public.orders OWNER TO app_prod;

CREATE FUNCTION public.f() RETURNS void
    LANGUAGE plpgsql
    AS $_$
BEGIN
GRANT SELECT ON t TO x;
ALTER TABLE t OWNER TO y;
END $_$;


ALTER FUNCTION public.f() OWNER TO app_prod;

COPY public.orders (id, note) FROM stdin;
1	GRANT SELECT ON t TO x;
2	ALTER TABLE t OWNER TO y;
\\.


--
-- Name: TABLE orders; Type: ACL; Schema: public; Owner: app_prod
--

GRANT SELECT ON TABLE public.orders TO reporting;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE app_prod IN SCHEMA public GRANT SELECT ON TABLES TO reporting;
`;

describe('PlainDumpFilter', () => {
  it('drops ownership and privilege statements, not function bodies or COPY data', async () => {
    for (const size of [1, 3, 7, 4096]) {
      const { out, dropped } = await filter(DUMP, size);
      expect(dropped).toBe(5);
      expect(out).not.toContain('OWNER TO app_prod');
      expect(out).not.toContain('TO reporting');
      expect(out).not.toContain('REVOKE ALL');
      expect(out).toContain("DEFAULT 'GRANT ALL;'");
      expect(out).toContain('BEGIN\nGRANT SELECT ON t TO x;\nALTER TABLE t OWNER TO y;\nEND $_$;');
      expect(out).toContain('1\tGRANT SELECT ON t TO x;\n2\tALTER TABLE t OWNER TO y;\n\\.\n');
    }
  });

  it('keeps multi-byte characters split across chunks intact', async () => {
    const sql = "COMMENT ON TABLE t IS 'ünïcødé ✓';\n";
    expect((await filter(sql, 1)).out).toBe(sql);
  });

  it('does not treat a GRANT inside a multi-line string as a statement', async () => {
    const sql = "INSERT INTO t VALUES ('first line\nGRANT ALL ON t TO x;\n');\nGRANT ALL ON t TO x;\n";
    const { out, dropped } = await filter(sql);
    expect(dropped).toBe(1);
    expect(out).toBe("INSERT INTO t VALUES ('first line\nGRANT ALL ON t TO x;\n');\n");
  });
});

describe('scanLine', () => {
  it('tracks quotes, escapes, dollar quotes and comments', () => {
    expect(scanLine("SELECT 'a''b';", { kind: 'normal' }, true)).toEqual({ state: { kind: 'normal' }, atStatementStart: true });
    expect(scanLine("SELECT E'it\\'s", { kind: 'normal' }, true).state).toEqual({ kind: 'squote', escapes: true });
    expect(scanLine('SELECT $fn$ body', { kind: 'normal' }, true).state).toEqual({ kind: 'dollar', tag: '$fn$' });
    expect(scanLine('SELECT a$b, $1; -- comment', { kind: 'normal' }, true)).toEqual({ state: { kind: 'normal' }, atStatementStart: true });
    expect(scanLine('/* a /* b */', { kind: 'normal' }, true).state).toEqual({ kind: 'block', depth: 1 });
    expect(scanLine('CREATE TABLE x (', { kind: 'normal' }, true).atStatementStart).toBe(false);
  });
});
