import type { ColumnClass, PiiKind } from './types.js';

/**
 * What "looks personal", by name and by content. Pure functions: the detector feeds them column
 * names and sampled values. Names are matched on tokens (snake_case, camelCase, kebab), in a few
 * languages (English, French, German, Spanish, Italian, Dutch, Portuguese, Nordic) — light, not
 * exhaustive: content sampling is the second net.
 */

/** `dateOfBirth`, `date_of_birth`, `Date-Of-Birth` → `date_of_birth`. */
export function normalizeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

interface NamePattern {
  readonly kind: PiiKind;
  /** Matched against the normalized name, with `_` boundaries around. */
  readonly pattern: RegExp;
  readonly classes: readonly ColumnClass[];
}

const TEXTUAL: readonly ColumnClass[] = ['string', 'json'];
const tok = (alternatives: string): RegExp => new RegExp(`(?:^|_)(${alternatives})(?:_|$)`);

// Order matters: the first match wins (ip_address is an ip, not an address).
const NAME_PATTERNS: readonly NamePattern[] = [
  { kind: 'email', pattern: tok('e_?mails?(?:_?address(?:es)?|_?adresse)?|mail(?:_?address)?|courriel|correo(?:_electronico)?|mailadres'), classes: TEXTUAL },
  { kind: 'ip', pattern: tok('ip|ip_?addr(?:ess)?|ipv4|ipv6|ip_v4|ip_v6|remote_addr(?:ess)?|remote_ip|client_ip|x_forwarded_for'), classes: [...TEXTUAL, 'inet'] },
  {
    kind: 'card',
    pattern: tok('card_?(?:number|num|no)|credit_?card(?:_number)?|cc_?(?:number|num|no)|pan|cvv2?|cvc'),
    classes: [...TEXTUAL, 'integer', 'numeric'],
  },
  { kind: 'iban', pattern: tok('iban|bic|swift(?:_code)?|account_?(?:number|num|no)|bank_?account(?:_number)?|rib|kontonummer|routing_?number'), classes: [...TEXTUAL, 'integer', 'numeric'] },
  {
    kind: 'national_id',
    pattern: tok(
      'ssn|social_?security(?:_number|_no)?|sin|nin|national_?(?:id|insurance)(?:_number|_no)?|passport(?:_?(?:number|no))?|tax_?(?:id|number)|tin|nir|dni|nie|nif|cpf|curp|codice_fiscale|personnummer|henkilotunnus|bsn|steuer_?id|id_?card(?:_number)?|identity_card|drivers?_?licen[cs]e(?:_number)?|licen[cs]e_number',
    ),
    classes: [...TEXTUAL, 'integer', 'numeric'],
  },
  {
    kind: 'phone',
    pattern: tok('phones?(?:_?numbers?)?|telephones?|tel|telefon|telefono|telefone|telefoon|mobile(?:_?phone|_?number)?|mobil|cell(?:_?phone)?|handy|fax|msisdn|portable|gsm'),
    classes: [...TEXTUAL, 'integer', 'numeric'],
  },
  {
    kind: 'birth',
    pattern: tok('birth|birthday|birth_?date|date_of_birth|dob|born(?:_on)?|geburtsdatum|geburtstag|naissance|date_de_naissance|nacimiento|fecha_de_nacimiento|nascita|data_di_nascita|geboortedatum|fodelsedag'),
    classes: [...TEXTUAL, 'date', 'timestamp'],
  },
  {
    kind: 'name',
    pattern: tok(
      'first_?name|firstname|given_?name|fore_?name|last_?name|lastname|sur_?name|family_?name|middle_?name|maiden_?name|full_?name|display_?name|contact_?name|customer_?name|person_?name|legal_?name|real_?name|nom|prenom|nom_de_famille|nombre|apellidos?|vorname|nachname|familienname|cognome|nome|sobrenome|voornaam|achternaam|fornavn|efternavn|etternavn|fornamn|efternamn',
    ),
    classes: TEXTUAL,
  },
  { kind: 'username', pattern: tok('user_?name|login(?:_?name)?|screen_?name|nick_?name|handle'), classes: TEXTUAL },
  {
    kind: 'address',
    pattern: tok(
      'address(?:_?line\\d*)?|addr|street(?:_?address)?|house_?number|post_?code|postal_?code|zip(?:_?code)?|adresse|direccion|indirizzo|strasse|plz|codigo_postal|code_postal|adres|postnummer',
    ),
    classes: TEXTUAL,
  },
  { kind: 'secret', pattern: tok('password(?:_?hash|_?digest)?|passwd|pwd|secret|api_?key|access_?token|refresh_?token|totp(?:_secret)?|otp_secret'), classes: [...TEXTUAL, 'bytea'] },
];

/** Last tokens that make a name about the data, not the data (`email_verified`, `phone_type`, `address_id`). */
const META_SUFFIX = new Set([
  'id', 'ids', 'uuid', 'count', 'type', 'kind', 'status', 'state', 'verified', 'confirmed', 'enabled', 'flag', 'at', 'on', 'format',
  'template', 'provider', 'opt', 'optin', 'opt_in', 'preference', 'preferences', 'visibility', 'visible', 'public', 'required', 'sent',
  'length', 'len', 'policy', 'changed', 'updated', 'version', 'label', 'field', 'column', 'key_id', 'ref', 'country', 'prefix', 'code_type',
]);

/** Tables whose bare `name` column is a person's name. */
const PERSON_TABLES = new Set([
  'user', 'customer', 'people', 'person', 'employee', 'contact', 'member', 'patient', 'client', 'account', 'author', 'student', 'staff',
  'driver', 'guest', 'applicant', 'candidate', 'subscriber', 'recipient', 'owner', 'profile', 'passenger', 'traveler', 'traveller',
  'buyer', 'seller', 'teacher', 'doctor', 'nurse', 'worker', 'volunteer', 'donor', 'lead', 'prospect', 'signer', 'sender', 'beneficiary',
  'utilisateur', 'kunde', 'benutzer', 'cliente', 'usuario', 'utente', 'persona', 'personne',
]);

const singular = (t: string): string => (t.endsWith('ies') ? `${t.slice(0, -3)}y` : t.endsWith('s') && !t.endsWith('ss') ? t.slice(0, -1) : t);

/** Why a column's name looks personal (for a column of `cls`), or undefined. */
export function matchName(column: string, cls: ColumnClass, table?: string): { kind: PiiKind; matched: string } | undefined {
  if (cls === 'boolean') return undefined;
  const norm = normalizeName(column);
  const tokens = norm.split('_');
  for (const p of NAME_PATTERNS) {
    const m = p.pattern.exec(norm);
    if (!m) continue;
    if (!p.classes.includes(cls)) continue;
    const matched = m[1]!;
    // `email_status`, `address_id`: the name is about the data; `birth_date`, `phone` are the data.
    const matchedTokens = matched.split('_');
    const last = tokens[tokens.length - 1]!;
    if (matchedTokens[matchedTokens.length - 1] !== last && META_SUFFIX.has(last)) continue;
    return { kind: p.kind, matched };
  }
  if ((norm === 'name' || norm === 'names') && cls === 'string' && table) {
    if (normalizeName(table).split('_').some((t) => PERSON_TABLES.has(singular(t)))) return { kind: 'name', matched: 'name' };
  }
  return undefined;
}

const luhn = (digits: string): boolean => {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
};

/** Issuer prefixes of the big card networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
const CARD_PREFIX = /^(?:4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|30[0-5]|36|38|62|50|5[6-9]|6[3-9])/;

export function isCardNumber(raw: string): boolean {
  const digits = raw.replace(/[ -]/g, '');
  return /^\d{13,19}$/.test(digits) && CARD_PREFIX.test(digits) && luhn(digits);
}

export function isIban(raw: string): boolean {
  const s = raw.replace(/\s/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const v = ch >= 'A' ? (ch.charCodeAt(0) - 55).toString() : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

export function isUsSsn(raw: string): boolean {
  const m = /^(\d{3})-(\d{2})-(\d{4})$/.exec(raw);
  if (!m) return false;
  const area = Number(m[1]);
  return area !== 0 && area !== 666 && area < 900 && m[2] !== '00' && m[3] !== '0000';
}

export function isPhone(raw: string): boolean {
  const s = raw.trim();
  if (!/^\+?[\d\s().-]{7,22}$/.test(s)) return false;
  if (/^\d{4}-\d{2}-\d{2}/.test(s) || /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || isUsSsn(s)) return false; // dates, IPv4, SSNs
  const digits = s.replace(/\D/g, '');
  if (digits.length < 8 || digits.length > 15) return false;
  return s.startsWith('+') || s.startsWith('(') || s.startsWith('00') || /\d[\s.-]\d/.test(s) || (s.startsWith('0') && digits.length >= 9);
}

export function isIp(raw: string): boolean {
  const s = raw.trim();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/\d{1,2})?$/.exec(s);
  if (v4) return v4.slice(1, 5).every((o) => Number(o) <= 255);
  return /^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\/\d{1,3})?$/i.test(s) && /[a-f]|::/i.test(s);
}

const EMAIL_IN_TEXT = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
const CARD_IN_TEXT = /(?:^|[^\d])((?:\d[ -]?){12,18}\d)(?!\d)/g;
const IBAN_IN_TEXT = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g;
const SSN_IN_TEXT = /\b\d{3}-\d{2}-\d{4}\b/g;
const PHONE_IN_TEXT = /(?:^|[^\w+])(\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4})(?!\d)/;

/** Content kinds with the share of sampled values that must match before a column is flagged. */
export const CONTENT_THRESHOLDS: Readonly<Record<PiiKind, number>> = {
  email: 0.01,
  iban: 0.05,
  card: 0.05,
  national_id: 0.1,
  phone: 0.3,
  ip: 0.5,
  name: 1,
  address: 1,
  birth: 1,
  username: 1,
  secret: 1,
};

/** The personal kinds one value shows (a whole value, or things embedded in free text). */
export function classifyValue(value: string): Set<PiiKind> {
  const kinds = new Set<PiiKind>();
  const v = value.length > 100_000 ? value.slice(0, 100_000) : value;
  if (EMAIL_IN_TEXT.test(v)) kinds.add('email');
  const short = v.length <= 64;
  if (short && isPhone(v)) kinds.add('phone');
  if (short && isIp(v)) kinds.add('ip');
  if (short && isUsSsn(v.trim())) kinds.add('national_id');
  if (short && isIban(v)) kinds.add('iban');
  if (short && isCardNumber(v.trim())) kinds.add('card');
  if (!short || /\s/.test(v.trim())) {
    for (const m of v.matchAll(CARD_IN_TEXT)) if (isCardNumber(m[1]!)) kinds.add('card');
    for (const m of v.matchAll(IBAN_IN_TEXT)) if (isIban(m[0])) kinds.add('iban');
    for (const m of v.matchAll(SSN_IN_TEXT)) if (isUsSsn(m[0])) kinds.add('national_id');
    if (PHONE_IN_TEXT.test(v)) kinds.add('phone');
  }
  return kinds;
}

export const KIND_WORDS: Readonly<Record<PiiKind, string>> = {
  email: 'email addresses',
  phone: 'phone numbers',
  name: 'names',
  address: 'addresses',
  birth: 'birth dates',
  national_id: 'national id numbers (US SSN pattern)',
  iban: 'IBANs with a valid checksum',
  card: 'card numbers passing Luhn',
  ip: 'IP addresses',
  username: 'user names',
  secret: 'secrets',
};
