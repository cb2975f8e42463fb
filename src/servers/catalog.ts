/**
 * What popular MCP servers need: the secrets they read, the variable they read each from, and a
 * format check. A server config says `catalog: github`, or is recognised by the package or image
 * it runs, and gets these filled in; its own `secrets` entries override by name.
 */
export interface CatalogSecret {
  /** Name in the store (and default variable). */
  name: string;
  /** The environment variable the server reads it from. */
  env: string;
  pattern?: string;
  required: boolean;
}

export interface CatalogEntry {
  id: string;
  /** npm packages, PyPI packages and images that identify this server in `args` or `image`. */
  packages: string[];
  secrets: CatalogSecret[];
}

const s = (name: string, pattern?: string, env = name): CatalogSecret => ({
  name,
  env,
  required: true,
  ...(pattern !== undefined && { pattern }),
});

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'github',
    packages: ['@modelcontextprotocol/server-github', 'ghcr.io/github/github-mcp-server', 'mcp/github'],
    secrets: [s('GITHUB_PERSONAL_ACCESS_TOKEN', '^(ghp_|github_pat_|gho_|ghu_|ghs_)')],
  },
  {
    id: 'gitlab',
    packages: ['@modelcontextprotocol/server-gitlab', 'mcp/gitlab'],
    secrets: [s('GITLAB_PERSONAL_ACCESS_TOKEN', '^glpat-')],
  },
  {
    id: 'slack',
    packages: ['@modelcontextprotocol/server-slack', 'mcp/slack'],
    secrets: [s('SLACK_BOT_TOKEN', '^xoxb-')],
  },
  {
    id: 'brave-search',
    packages: [
      '@modelcontextprotocol/server-brave-search',
      '@brave/brave-search-mcp-server',
      'mcp/brave-search',
    ],
    secrets: [s('BRAVE_API_KEY')],
  },
  {
    id: 'google-maps',
    packages: ['@modelcontextprotocol/server-google-maps', 'mcp/google-maps'],
    secrets: [s('GOOGLE_MAPS_API_KEY', '^AIza')],
  },
  {
    id: 'postgres',
    packages: ['@modelcontextprotocol/server-postgres', 'mcp/postgres'],
    secrets: [s('POSTGRES_PASSWORD')],
  },
  { id: 'openai', packages: [], secrets: [s('OPENAI_API_KEY', '^sk-')] },
  { id: 'anthropic', packages: [], secrets: [s('ANTHROPIC_API_KEY', '^sk-ant-')] },
  { id: 'kagi', packages: ['kagimcp', 'mcp/kagi'], secrets: [s('KAGI_API_KEY')] },
  {
    id: 'notion',
    packages: ['@notionhq/notion-mcp-server', 'mcp/notion'],
    secrets: [s('NOTION_TOKEN', '^(secret_|ntn_)')],
  },
  {
    id: 'linear',
    packages: ['linear-mcp-server', 'mcp/linear'],
    secrets: [s('LINEAR_API_KEY', '^lin_api_')],
  },
  {
    id: 'sentry',
    packages: ['@sentry/mcp-server', 'mcp-server-sentry', 'mcp/sentry'],
    secrets: [s('SENTRY_ACCESS_TOKEN', '^sntry')],
  },
];

/** A package reference without its version: `@scope/pkg@1.2.3` → `@scope/pkg`, `img:tag` → `img`. */
function bare(ref: string): string {
  const at = ref.lastIndexOf('@');
  const noVersion = at > 0 ? ref.slice(0, at) : ref;
  return noVersion.replace(/:[\w.-]+$/, '');
}

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}

/** The entry whose package or image appears in a server's `args` or `image`. */
export function recognise(args: readonly string[], image?: string): CatalogEntry | undefined {
  const refs = [...args, ...(image ? [image] : [])].map(bare);
  return CATALOG.find((e) => e.packages.some((p) => refs.includes(p)));
}
