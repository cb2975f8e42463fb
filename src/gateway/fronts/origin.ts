/**
 * DNS-rebinding protection: a page on evil.example that makes its name resolve to 127.0.0.1
 * still sends `Host: evil.example` and `Origin: http://evil.example`. On a loopback bind only
 * loopback names are accepted as Host (with or without the port); an Origin, when sent, must be
 * a loopback page or one the config allows. Elsewhere the config's lists decide.
 */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || host.startsWith('127.');
}

function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end < 0 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.indexOf(':');
  return (colon < 0 ? hostHeader : hostHeader.slice(0, colon)).toLowerCase();
}

export function hostAllowed(
  req: { headers: { host?: string; origin?: string } },
  boundHost: string,
  port: number,
  lists: { allowedHosts: readonly string[]; allowedOrigins: readonly string[] },
): boolean {
  const host = req.headers.host;
  const loopbackBind = isLoopback(boundHost);
  if (loopbackBind || lists.allowedHosts.length > 0) {
    if (host === undefined) return false;
    const name = hostName(host);
    const byList = lists.allowedHosts.includes(host) || lists.allowedHosts.includes(name);
    const byLoopback = loopbackBind && isLoopback(name) && (host === name || host === `${name}:${port}`);
    if (!byList && !byLoopback) return false;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (lists.allowedOrigins.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const name = url.hostname.startsWith('[') ? url.hostname : url.hostname.toLowerCase();
  if (loopbackBind && isLoopback(name)) return true;
  return lists.allowedHosts.includes(url.host) || lists.allowedHosts.includes(name);
}
