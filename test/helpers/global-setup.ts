import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Gives the keychain and secretservice tests a Secret Service to talk to: the D-Bus session the
 * tests run in when its keyring works (`.ci/run` starts one), else a private dbus-daemon with a
 * gnome-keyring unlocked in a throwaway HOME, so a developer's own login keyring is never touched.
 * The address lands in process.env before the test workers start, so they inherit it.
 */
const children: ChildProcess[] = [];
let home: string | undefined;

function keyringWorks(address: string): boolean {
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const k=require('@napi-rs/keyring');const e=new k.Entry('mcp-warden-test-probe','p');e.setPassword('x');if(e.getPassword()!=='x')process.exit(1);e.deleteCredential();`,
    ],
    {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address },
      timeout: 15_000,
      stdio: ['ignore', 'ignore', process.env.MCPW_DEBUG_SETUP ? 'inherit' : 'ignore'],
    },
  );
  return probe.status === 0;
}

function which(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, bin)));
}

async function privateSession(): Promise<string> {
  for (const bin of ['dbus-daemon', 'gnome-keyring-daemon']) {
    if (!which(bin))
      throw new Error(
        `the keychain tests need ${bin}: apt-get install dbus gnome-keyring (or run bash .ci/run)`,
      );
  }
  home = mkdtempSync(join(tmpdir(), 'mcpw-keyring-'));
  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(bus);
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    bus.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    bus.on('exit', () => reject(new Error('dbus-daemon exited')));
  });
  const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data'), DBUS_SESSION_BUS_ADDRESS: address },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  children.push(keyring);
  keyring.stdin.end('test-keyring-password');
  // Probe only once it is up: an earlier D-Bus call would activate a second, locked daemon.
  await new Promise<void>((resolve, reject) => {
    keyring.stdout
      .setEncoding('utf8')
      .on('data', (d: string) => d.includes('GNOME_KEYRING_CONTROL') && resolve());
    keyring.on('exit', (code) => reject(new Error(`gnome-keyring-daemon exited with ${code}`)));
    setTimeout(resolve, 5000);
  });
  for (let i = 0; i < 50; i++) {
    if (keyringWorks(address)) return address;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the private gnome-keyring did not come up within 10 s');
}

export async function setup(): Promise<void> {
  const ambient = process.env.DBUS_SESSION_BUS_ADDRESS;
  if (ambient && keyringWorks(ambient)) {
    process.env.MCP_WARDEN_TEST_KEYRING = `session bus ${ambient}`;
    return;
  }
  process.env.DBUS_SESSION_BUS_ADDRESS = await privateSession();
  process.env.MCP_WARDEN_TEST_KEYRING = `private bus ${process.env.DBUS_SESSION_BUS_ADDRESS}`;
}

export function teardown(): void {
  for (const c of children.reverse()) c.kill('SIGTERM');
  if (home) rmSync(home, { recursive: true, force: true });
}
