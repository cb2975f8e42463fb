#!/usr/bin/env node
/**
 * The stdio MCP server every front in bench/gateway.js fronts: one tool, `echo`, which answers its
 * `text` argument as one text content item. Built on the SDK's McpServer and StdioServerTransport
 * (what a typical stdio server is), with nothing else, so that the fronts are what the bench
 * measures.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
server.registerTool(
  'echo',
  { description: 'Answers its text argument.', inputSchema: { text: z.string() } },
  ({ text }) => ({ content: [{ type: 'text', text }] }),
);
await server.connect(new StdioServerTransport());
