/**
 * IP address syntax, without node:net (the pure layers may not use Node): which version a
 * textual address is, strictly (dotted-quad IPv4 without leading zeros; IPv6 as RFC 4291
 * section 2.2 writes it, `::` at most once, an IPv4 tail allowed; no zone index).
 */

const V4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => V4_OCTET.test(p));
}

function isIpv6(s: string): boolean {
  if (s.length > 45 || s.length < 2) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  let count = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIpv4(last)) return false;
    all.pop();
    count += 1; // an IPv4 tail takes two groups
  }
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? count < 8 : count === 8;
}

/** 4, 6, or 0 when `s` is not an IP address. */
export function ipVersion(s: string): 4 | 6 | 0 {
  if (isIpv4(s)) return 4;
  if (isIpv6(s)) return 6;
  return 0;
}
