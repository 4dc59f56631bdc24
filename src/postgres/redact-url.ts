/**
 * Replaces the password of a connection URL with `****`, so URLs can appear in messages and
 * logs. Also masks `password=` query parameters (libpq accepts them). Input that does not parse
 * as a URL is returned with anything that looks like `:secret@` masked.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Greedy up to the last '@': better to hide too much than a piece of the password.
    return url.replace(/(\/\/[^/:@]*:).*@/, '$1****@').replace(/(password=)[^&\s]*/gi, '$1****');
  }
  if (parsed.password) parsed.password = '****';
  let text = parsed.toString();
  if (parsed.searchParams.has('password')) text = text.replace(/([?&]password=)[^&#]*/gi, '$1****');
  return text;
}

/** Removes every occurrence of `secret` (and its URL-encoded form) from `text`. */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text.split(secret).join('****');
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join('****');
  return out;
}
