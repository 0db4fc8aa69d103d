/**
 * The MASA URL of an IDevID (RFC 8995 section 2.3.2, id-pe-masa-url) in the one form the
 * registrar uses to reach the MASA (section 5.4). The extension holds either a full URL
 * (`https://masa.example.com:9443`, optionally with a path) or only its authority
 * (`masa.example.com:9443`), which means `https://masa.example.com:9443/.well-known/brski`.
 * Both become `https://<authority>[<path prefix>]`, the base under which the registrar asks
 * for `/.well-known/brski/requestvoucher`; anything else is ERR_IDEVID_INVALID.
 */
import { AirlockError } from '../../core/errors.js';

/** host, IPv4 or [IPv6], and an optional port: RFC 3986 section 3.2 without userinfo. */
const AUTHORITY =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;
const WELL_KNOWN = '/.well-known/brski';

/** The https base URL the MASA URL extension names, without a trailing slash. */
export function normaliseMasaUrl(value: string | undefined): string {
  const invalid = (detail: string) => new AirlockError('ERR_IDEVID_INVALID', `MASA URL: ${detail}`);
  if (value === undefined || value.trim() === '') throw invalid('absent');
  const text = value.trim();
  if (text.length > 2048 || /\s/.test(text)) throw invalid('malformed');
  let authority: string;
  let path = '';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== 'https') throw invalid('not https');
    const rest = text.slice(scheme[0].length);
    const slash = rest.search(/[/?#]/);
    authority = slash === -1 ? rest : rest.slice(0, slash);
    const tail = slash === -1 ? '' : rest.slice(slash);
    if (/[?#]/.test(tail)) throw invalid('a query or fragment');
    path = tail;
  } else {
    if (/[/?#@]/.test(text) || text.includes('://')) throw invalid('malformed authority');
    authority = text;
  }
  const m = AUTHORITY.exec(authority);
  if (!m) throw invalid('malformed authority');
  if (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535))
    throw invalid('port out of range');
  path = path.replace(/\/+$/, '');
  if (path.endsWith(WELL_KNOWN)) path = path.slice(0, -WELL_KNOWN.length);
  if (path !== '' && !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/.test(path))
    throw invalid('malformed path');
  return `https://${authority.toLowerCase()}${path}`;
}
