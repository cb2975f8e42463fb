/**
 * The gateway security requirements (issue 5) and the other behaviours named by id, each verified by
 * at least one test whose title starts with `[id]` (test/requirements.test.ts checks both ways).
 * The description is what the test shows.
 */
export const REQUIREMENTS: Record<string, string> = {
  // audit
  'audit:arguments:capped': 'large arguments and fields are cut to a bounded line, with the original size',
  'audit:chain:tamper-detected': 'an edited, removed, swapped, inserted or cut line is named, with why',
  'audit:chain:verify':
    'a clean log verifies, through the API and the CLI, and the chain continues across restarts',
  'audit:cli:tail': 'tail prints the last lines, plain or as JSON, and follows the log across a rotation',
  'audit:config:invalid': 'gateway.audit is validated when parsed, naming the offending path',
  'audit:e2e:count': 'under load every call is one tool_call line, and the chain verifies',
  'audit:e2e:sighup-reopen': 'logrotate: the file moved away, SIGHUP, new lines in a new file, one chain',
  'audit:e2e:stdio': 'the stdio front audits its calls too',
  'audit:file-mode':
    'the log is 0600 in a 0700 directory; the key is 0600, created once, shared by concurrent starts',
  'audit:line-per-event': 'every recorded event is one line with its fields, in a fixed key order',
  'audit:load:count':
    '10 000 concurrent calls give exactly 10 000 tool_call lines, in one valid chain, across a rotation',
  'audit:no-injection': 'CR, LF, U+2028/9, NEL, NUL, ANSI and bidi characters never make an extra line',
  'audit:redact:keys': 'credential keys are redacted at any depth, case-insensitively; other keys are kept',
  'audit:redact:shapes':
    'well-known token shapes are masked in arguments and fields, the shortest (a 15-character Slack token) too',
  'audit:redact:secret-values':
    'managed secret values never reach the file: raw, JSON-escaped, URL-encoded, base64',
  'audit:reopen:sighup': 'on SIGHUP the log reopens its path and the new file continues the chain',
  'audit:stage:never-throws':
    'a call succeeds whatever the audit does: a throwing sink, an unformattable event',
  'audit:write-failure:reported':
    'a failing write is reported once, the lines are kept, and written after recovery',
  // auth
  'auth:bad-key:401': 'an unknown or malformed key is refused 401 invalid_token, naming no key',
  'auth:bearer-header': 'a valid key as Authorization: Bearer admits the key’s client',
  'auth:bind:non-loopback': 'a non-loopback bind needs auth: refused without it, listening with keys',
  'auth:conflicting-headers:400':
    'two different credentials in the two headers, or a repeated header, are refused 400',
  'auth:e2e:key-required': 'without a key 401 with a challenge, with one a session; the failure is audited',
  'auth:expired-key:401': 'an expired key is refused 401 with error=',
  'auth:failures:block:429':
    'after max failures from one address it answers 429 with Retry-After, without trying the key',
  'auth:failures:options-checked': 'bad options fail when the guard is built',
  'auth:failures:successes-pass': 'successes neither count nor block',
  'auth:failures:unblock': 'once the block ends the address is let through again',
  'auth:identity:per-key': 'sessions of one key share its server processes; another key gets its own',
  'auth:key-file:absent': 'with no key file yet the ring is empty, warns once, and picks up the first key',
  'auth:key-file:insecure': 'a key file others can write to is refused',
  'auth:key:checksum-rejects-typos': 'a changed character, a short key or another prefix is not key-shaped',
  'auth:key:connection-memo':
    'the key a connection proved is known again without a hash, yet revocation, expiry and other keys are still judged',
  'auth:key:expiry': 'a key stops working at its expiry, checked at each call without a reload',
  'auth:key:hash-only': 'create prints the key once on stdout and stores only its SHA-256 hash',
  'auth:key:leak-pattern': 'KEY_PATTERN finds a key inside text and not inside a longer token',
  'auth:key:prefix-checksum': 'a key is mcpw_ + 43 base62 of 256 bits + a 6-char CRC-32 checksum',
  'auth:key:scope-servers': 'a key limited to some servers sees and reaches only those',
  'auth:key:verify-reasons': 'unknown, malformed and valid keys are told apart',
  'auth:legacy-keys:import':
    'keys import hashes the keys, disabled ones revoked; the plaintext never lands in our file',
  'auth:legacy-keys:warn':
    'a legacy file as key file is read with a warning and its keys verify in constant time',
  'auth:missing-key:401': 'a request without a key is refused 401 with a Bearer challenge',
  'auth:oauth:alg-confusion:401': 'an HS256 token keyed with the issuer public key is refused',
  'auth:oauth:alg-none:401': 'an unsecured token (alg none) is refused',
  'auth:oauth:api-key-first':
    'a request an earlier stage already admitted passes without a look at the issuer',
  'auth:oauth:audience:401': 'a token for another resource is refused',
  'auth:oauth:bad-request:400':
    'two Authorization headers, or an empty bearer token, is a 400 invalid_request',
  'auth:oauth:cache': 'a verified token is not verified again for a minute, then it is',
  'auth:oauth:cache:bounded': 'the cache holds at most cacheSize tokens, the least recently used out first',
  'auth:oauth:cache:exp': 'a cached token is refused once it expires',
  'auth:oauth:cache:in-flight': 'parallel requests with a new token share one verification and one client',
  'auth:oauth:challenge': 'a request without a bearer token gets 401 with the resource_metadata challenge',
  'auth:oauth:config:defaults':
    'audience defaults to the resource (with or without its trailing slash), tolerance to 30 s',
  'auth:oauth:config:invalid': 'a bad section is CONFIG_INVALID naming gateway.auth.oauth.<field>',
  'auth:oauth:config:over-grant': 'a scope map whose union would grant more than its scopes is refused',
  'auth:oauth:discovery':
    'the JWKS is found through RFC 8414 metadata, path-inserted for an issuer with a path',
  'auth:oauth:discovery:config':
    'metadata naming another issuer, or none at all, is a CONFIG_INVALID at ready() and a 503 per request',
  'auth:oauth:discovery:openid': 'OpenID Connect discovery is tried when RFC 8414 metadata is absent',
  'auth:oauth:e2e': 'a token from the issuer opens a session; without one the challenge names the metadata',
  'auth:oauth:expired:401': 'an expired token is refused, within the clock tolerance it is not',
  'auth:oauth:issuer-down:503':
    'an unreachable issuer is a 503 with Retry-After, never invalid_token, and is logged without the token',
  'auth:oauth:issuer-down:stale-keys':
    'with the issuer down, tokens signed by a key it last published still verify; an unknown kid is 503',
  'auth:oauth:issuer:401': 'a token whose iss is another server, signed with the right key, is refused',
  'auth:oauth:jwks-cooldown': 'an unknown kid does not refetch the JWKS within the cooldown',
  'auth:oauth:jwks-rotation':
    'a new signing key (new kid) in the JWKS is picked up; a withdrawn one stops working',
  'auth:oauth:jwks-uri': 'a configured jwksUri is used without discovery',
  'auth:oauth:malformed:401': 'text that is not a JWT is refused as invalid_token',
  'auth:oauth:nbf:401': 'a token that is not valid yet is refused',
  'auth:oauth:no-grant:403': 'with a scope map, a token holding none of its scopes gets 403',
  'auth:oauth:no-passthrough': 'the admitted client carries no token and the Authorization header is cleared',
  'auth:oauth:no-scope-map': 'without a scope map, a valid token reaches every server and tool',
  'auth:oauth:no-token-upstream':
    'the client token never reaches an upstream: a remote server sees only its own',
  'auth:oauth:prm': 'the RFC 9728 document names the resource, the issuer, the scopes and header bearer use',
  'auth:oauth:ready': 'ready() loads the keys once, so the first request does not wait for them',
  'auth:oauth:scope-map':
    'the client gets the union of what its scopes map to; an unmapped scope grants nothing',
  'auth:oauth:scope:403': 'a token without a required scope gets 403 insufficient_scope naming the scope',
  'auth:oauth:signature:401': 'a token whose payload was changed after signing is refused',
  'auth:oauth:subject': 'the client id is the subject, else client_id or azp; a token naming none is refused',
  'auth:oauth:typ': 'typ at+jwt and JWT are accepted; another typ, or none, is refused',
  'auth:oauth:unknown-key:401': 'a token signed by a key the JWKS does not publish is refused',
  'auth:oauth:valid': 'a token from the issuer, for this resource, is admitted as an oauth client',
  'auth:options:checked-at-build': 'a bad realm or a missing ring fails when the stage is built',
  'auth:pass-through-non-keys': 'with passThroughNonKeys a token that is no key goes on unauthenticated',
  'auth:reload:bad-file-keeps-keys':
    'a broken key file written meanwhile is reported and the loaded keys stay',
  'auth:reload:check-on-verify': 'without a file watch, verify notices a changed file within about a second',
  'auth:reload:no-restart': 'a running KeyRing sees keys created and revoked by another process within 1.5 s',
  'auth:revoke:live': 'a key revoked while the gateway runs is refused within seconds, no restart',
  'auth:revoked-key:401': 'a revoked key is refused 401; the reason names its id and client, never the key',
  'auth:rotate:grace': 'rotate makes a new key with the same scope; the old one works until the grace ends',
  'auth:session:bound-to-client': 'a session id presented with another key is not found',
  'auth:x-mcp-api-key-header': 'a valid key as X-MCP-API-Key admits too, with the key’s scope',
  // badinput
  'badinput:accept:406': 'an Accept that takes neither JSON nor SSE',
  'badinput:audit-injection':
    'CR, LF, U+2028, ANSI and NUL in tool names and arguments never make extra lines',
  'badinput:auth-header-tricks': 'malformed credentials are 401 or 400, never admitted',
  'badinput:body-limit:413': 'a body over gateway.maxBodyBytes, declared or chunked',
  'badinput:content-type:415': 'a body that is not application/json',
  'badinput:header-tricks': '…: …',
  'badinput:host-origin:403': 'a foreign Host or Origin (DNS rebinding) is refused',
  'badinput:json': '…: …, and the gateway keeps serving',
  'badinput:method:405': 'methods /mcp does not serve',
  'badinput:path-tricks': '… is …, never /mcp without authentication',
  'badinput:slow-client:408': 'a client trickling its head is cut off, others are served meanwhile',
  'badinput:survives': 'the gateway is still up and serving, and the audit lost nothing',
  // config
  'config:auth-failures':
    'gateway.auth.failures has defaults 10 per 60 s, blocked 300 s, and names a bad field',
  'config:auth-keys': 'gateway.auth.keys is',
  // ipallow
  'ipallow:cidr-v4': 'an IPv4 CIDR admits the addresses inside it and refuses those outside',
  'ipallow:cidr-v6': 'an IPv6 CIDR admits the addresses inside it and refuses those outside',
  'ipallow:config:canonical': 'parseIpAllow answers both lists in canonical form',
  'ipallow:config:invalid':
    'a bad entry is a CONFIG_INVALID error naming it, when parsed and when the stage is built',
  'ipallow:denied:403':
    'a refused address gets a 403 with a JSON-RPC FORBIDDEN error and a policy_denied event',
  'ipallow:e2e:403': 'an address outside gateway.allowIps is refused before authentication',
  'ipallow:everyone': 'without allowIps every address is admitted and its address still resolved',
  'ipallow:mapped-v4': 'an IPv4-mapped IPv6 peer matches IPv4 entries and is recorded as IPv4',
  'ipallow:real-socket':
    'a real IPv4 peer, a dual-stack socket’s mapped peer and repeated X-Forwarded-For lines',
  'ipallow:real-socket-v6': 'an IPv6 loopback peer',
  'ipallow:single-address': 'a bare address admits itself only',
  'ipallow:xff:malformed': 'a malformed entry stops the walk at the last good hop',
  'ipallow:xff:multi-proxy': 'the walk skips every trusted proxy from the right, across repeated headers',
  'ipallow:xff:trusted-proxy':
    'behind a trusted proxy the client is the rightmost entry; a spoofed left entry is ignored',
  'ipallow:xff:untrusted-ignored': 'a client cannot choose its address with X-Forwarded-For',
  'ipallow:zone-id': 'a zone id on the peer or in the config is ignored',
  // keys
  'keys:concurrent-create': 'eight concurrent creates lose none of the keys',
  'keys:create:expires-date': '--expires takes an ISO date, and refuses one in the past',
  'keys:create:json': '--json prints the key with its id and metadata, never the hash',
  'keys:file-modes': 'the key file is 0600 in a 0700 directory, and no lock is left behind',
  'keys:file:from-config':
    'without --file the key file is the config gateway.auth.keys, relative to the config',
  'keys:help': '--help on keys and on each command prints the usage and exits 0',
  'keys:import:bad-input': 'a bad import file fails in one line that quotes no key',
  'keys:import:in-place': 'importing the configured key file itself replaces the plaintext with hashes',
  'keys:import:remove': '--remove deletes the plaintext file once the import is written',
  'keys:legacy:top-level-array': 'a top-level array of clients is legacy too; ls warns and shows no key',
  'keys:ls:empty': 'ls with no key file says so on stderr; --json prints []',
  'keys:ls:no-secret': 'ls and ls --json show ids, clients, times and states; never a key or a hash',
  'keys:revoke:client': 'revoke CLIENT_ID revokes every key of that client, and only those',
  'keys:revoke:key-id': 'revoke KEY_ID revokes that one key; an unknown one fails with exit 1',
  'keys:rotate:grace-zero': 'rotate --grace 0 ends the old key now; a client without keys cannot rotate',
  'keys:usage:one-line-errors': 'bad usage of each command is one line on stderr and exit 2',
  // leak
  'leak:allowlist': 'a server’s allowlist exempts its detectors, secrets and literals, and no other server’s',
  'leak:allowlist:server': 'the allowlist is per server: a’s JWTs pass, b’s are redacted',
  'leak:arguments:block': 'in block mode a call whose arguments hold a secret never reaches the server',
  'leak:arguments:redact': 'a secret in arguments is redacted before the server sees it',
  'leak:config:parse':
    'gateway.leakGuard is parsed with defaults, a wrong entry names its path and not its text',
  'leak:deep': 'a secret at the bottom of a very deep value is still redacted',
  'leak:disabled': 'enabled: false passes everything through',
  'leak:e2e:result-redacted': 'a server answering with its own secret: the client gets it redacted',
  'leak:e2e:stdio': 'on stdio too: destructive tools denied, secrets redacted',
  'leak:no-value-in-reports':
    'neither a denial, an error, nor onLeak ever holds the value, even when the tool name does',
  'leak:result:block': 'in block mode a result holding a secret is replaced by an error that never holds it',
  'leak:result:forms':
    'each form of a managed secret is redacted: raw, JSON-escaped, base64, base64url, URL-encoded, in a Basic header',
  'leak:result:keys-and-errors': 'a secret in an object key or in an error a server answered is redacted too',
  'leak:result:large': 'a secret in a long text, or among thousands of small fields, is found',
  'leak:result:redact':
    'a managed secret in a result is redacted in every form, in tool, prompt and resource results',
  'leak:secrets:filter-exact':
    'the skipping filter finds exactly the occurrences a naive search finds, for short and long values',
  'leak:secrets:reload': 'the secret list is read again when the source answers a new array',
  'leak:secrets:short': 'values shorter than 4 characters are not looked for (they would mask ordinary text)',
  'leak:shapes-off': 'shapes: false leaves token shapes alone but still redacts managed secrets',
  'leak:shapes:anthropic': 'Anthropic keys (sk-ant-...) are redacted',
  'leak:shapes:aws': 'AWS access key ids (AKIA, ASIA) are redacted',
  'leak:shapes:aws-secret': 'an AWS secret access key is redacted next to its name only, the name kept',
  'leak:shapes:boundary': 'a token right after a control character or an escape sequence is still found',
  'leak:shapes:github': 'GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_) are redacted',
  'leak:shapes:jwt': 'JWTs are redacted',
  'leak:shapes:mcp-warden': 'mcp-warden client keys (mcpw_) are redacted',
  'leak:shapes:negative': 'ordinary text, UUIDs, git SHAs, base64 blobs and near misses pass untouched',
  'leak:shapes:openai': 'OpenAI keys (sk-, sk-proj-, sk-svcacct-) are redacted',
  'leak:shapes:prefilter': 'the literal prefilter passes every sample of every shape (it is a superset)',
  'leak:shapes:private-key': 'PEM private keys are redacted header to footer',
  'leak:shapes:slack': 'Slack tokens (xox[baprs]-) are redacted',
  'leak:shapes:stripe': 'Stripe keys (sk_live_, rk_live_, sk_test_) are redacted',
  // policy
  'policy:client-servers:denied':
    'tools, prompts and resources of a server outside the client’s servers are refused and unlisted',
  'policy:client-tools:glob': 'a client with tool globs calls and sees only those tools',
  'policy:config:parse': 'gateway.safety is parsed with defaults, and a wrong value names its path',
  'policy:deny:denied': 'a tool in deny is refused to everyone, even where destructive calls are allowed',
  'policy:destructive:allowed-global': 'allowDestructive lets every client call destructive tools',
  'policy:destructive:allowed-key':
    'a client whose key allows destructive calls, or listed in allowDestructiveFor, may call them',
  'policy:destructive:denied': 'a destructive tool is refused by default, never reaching the server',
  'policy:destructive:moderate-allowed': 'safe and moderate tools are called as usual',
  'policy:e2e:destructive': 'a destructive tool is hidden and denied by default, allowed for a key that may',
  'policy:e2e:stdio': 'on stdio too: destructive tools denied, secrets redacted',
  'policy:tiers:annotations': 'readOnlyHint is safe, destructiveHint destructive, the rest moderate',
  'policy:tiers:invalid': 'a tier that is not one is refused when the stage is built',
  'policy:tiers:override': 'config globs come before annotations, first match wins',
  'policy:tiers:unannotated': 'unannotated: destructive reads a missing destructiveHint as the MCP spec does',
  'policy:tools-list:cursor':
    'a filtered page keeps its nextCursor, and the pages together hold every allowed tool',
  'policy:tools-list:filtered': 'tools/list leaves out every tool the client could not call',
  'policy:unknown-tool:passthrough': 'a tool no server offers is left to the router (',
  // ratelimit
  'ratelimit:concurrent:429': 'calls in flight over the limit are refused; other methods are not counted',
  'ratelimit:concurrent:release': 'the slot is released when the call throws, and when a later limit refuses',
  'ratelimit:config:invalid': 'a valid section parses, with its defaults and the tools in order',
  'ratelimit:http:429': 'over the per-client rpm: HTTP 429 with Retry-After, audited',
  'ratelimit:per-client': 'one client spending its budget leaves the others theirs',
  'ratelimit:redis:allow': 'with onStoreError allow each process limits on its own while Redis is away',
  'ratelimit:redis:down':
    'with onStoreError deny (the default) requests are refused with 503 and a clear reason, logged once',
  'ratelimit:redis:password':
    'the password comes from the options or REDIS_PASSWORD and never shows in a log or a refusal',
  'ratelimit:redis:shared-budget':
    'two gateway processes on one Redis share one budget: rpm 20, 20 each, 20 admitted in all',
  'ratelimit:redis:two-gateways': 'two gateway processes sharing a Redis share one budget',
  'ratelimit:retry-after': 'Retry-After says when the next request is admitted, to the slot',
  'ratelimit:rpm:429':
    'over rpm the request is refused with 429, Retry-After and a JSON-RPC error, and goes no further',
  'ratelimit:sliding-window':
    'no window-long span ever holds more than the limit, wherever it starts (simulated clock)',
  'ratelimit:stdio:jsonrpc-error': 'on the stdio front the limit answers a JSON-RPC error',
  'ratelimit:tool-override':
    'a tool glob sets a stricter budget per tool, the first matching glob applies, on top of the client budget',
  // tls
  'tls:close':
    'idle connections and handshakes are dropped at once by closeIdleConnections and close(), busy ones only by closeAllConnections',
  'tls:e2e': 'gateway.http.tls serves HTTPS with the configured certificate',
  'tls:handshake-timeout':
    'a client that opens TCP and never sends a ClientHello is dropped after the handshake timeout',
  'tls:key-file-mode': 'a key file group or others may read is refused with the chmod to run',
  'tls:load-errors': 'an unreadable, non-PEM or mismatched file is one line naming it, without key material',
  'tls:old-versions-refused': 'TLS 1.0 and 1.1 are refused; 1.2 and 1.3 are served',
  'tls:options': 'a bad handshake timeout is refused when the server is built',
  'tls:plain-http-refused':
    'plain HTTP to the TLS port is dropped without an answer, logged, and the server goes on',
  'tls:serves': 'HTTPS requests get their answers, over ALPN http/1.1, on a kept-alive connection',
};
