// Starts, stops and restarts a real `hearth` process for the matrix-js-sdk suite, and decides which scenarios run.
//
// The node twin of e2e/python/hearth_harness.py: free loopback ports, a config from the shared template
// (e2e/lib/hearth.toml.in), a fresh data directory and, with HEARTH_E2E_DATABASE=postgres, a fresh PostgreSQL
// database. Every wait is bounded; the process is only ever signalled by its own PID.
//
// `scenario(name, { needs }, fn)` declares a test that runs only when e2e/enabled.txt lists `node <name>` (or
// HEARTH_E2E_ALL=1); otherwise it is skipped with the endpoints it waits for.

import { spawn, execFile } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CONFIG_TEMPLATE = join(REPO_ROOT, "e2e", "lib", "hearth.toml.in");
const ENABLED_LIST = join(REPO_ROOT, "e2e", "enabled.txt");
const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

// Bounds, in milliseconds: generous for a debug build on a busy 2-core machine, finite so a hang fails a test.
const START_TIMEOUT = Number(process.env.HEARTH_E2E_START_TIMEOUT ?? 60) * 1000;
const STOP_TIMEOUT = Number(process.env.HEARTH_E2E_STOP_TIMEOUT ?? 15) * 1000;
const COMMAND_TIMEOUT = 60_000;
const HTTP_TIMEOUT = 10_000;
/** Upper bound for one scenario, server start-up included. */
export const SCENARIO_TIMEOUT = 300_000;

/** Names of the node scenarios enabled in e2e/enabled.txt (`node <name>` lines; `#` starts a comment). */
export function enabledScenarios() {
    const enabled = new Set();
    for (const line of readFileSync(ENABLED_LIST, "utf8").split("\n")) {
        const words = line.split("#")[0].trim().split(/\s+/);
        if (words.length === 2 && words[0] === "node") enabled.add(words[1]);
    }
    return enabled;
}

const ENABLED = enabledScenarios();
const RUN_ALL = process.env.HEARTH_E2E_ALL === "1";

/**
 * A node:test test that runs only when enabled; `needs` names what of the server it uses (shown when skipped).
 * Names are identifiers (`[a-z0-9_]+`) so e2e/enabled.txt and scripts/e2e/node.sh can refer to them.
 */
export function scenario(name, { needs }, fn) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`scenario name ${name} must match [a-z0-9_]+`);
    if (!needs?.length) throw new Error(`scenario ${name} must say what it needs`);
    const skip = RUN_ALL || ENABLED.has(name) ? false : `not enabled in e2e/enabled.txt; waits for: ${needs.join(", ")}`;
    test(name, { skip, timeout: SCENARIO_TIMEOUT }, fn);
}

/**
 * The hearth binary: $HEARTH_BIN (scripts/e2e/node.sh builds it and sets it), else the debug build in
 * $CARGO_TARGET_DIR (default $HEARTH_CACHE/target) when one exists. Unlike the Python fixture this never builds.
 */
export function hearthBinary() {
    const cache = process.env.HEARTH_CACHE || join(homedir(), ".cache", "hearth");
    const binary = process.env.HEARTH_BIN || join(process.env.CARGO_TARGET_DIR || join(cache, "target"), "debug", "hearth");
    if (!existsSync(binary)) {
        throw new Error(`no hearth binary at ${binary}; run scripts/e2e/node.sh, cargo build, or set HEARTH_BIN`);
    }
    return binary;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeLoopbackPort() {
    return new Promise((resolvePort, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            server.close(() => resolvePort(port));
        });
    });
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** One JSON HTTP request, bounded in time; returns `{ status, body }` (errors included). */
export async function httpJson(method, url, body) {
    const response = await fetch(url, {
        method,
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(HTTP_TIMEOUT),
    });
    const text = await response.text();
    let parsed;
    try {
        parsed = text ? JSON.parse(text) : {};
    } catch {
        parsed = { raw: text };
    }
    return { status: response.status, body: parsed };
}

function run(command, args) {
    return new Promise((resolveRun, reject) => {
        execFile(command, args, { timeout: COMMAND_TIMEOUT, encoding: "utf8" }, (error, stdout, stderr) => {
            if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
            else resolveRun(stdout);
        });
    });
}

/** A fresh database on the server named by HEARTH_TEST_POSTGRES_URL, created with psql, dropped on `drop()`. */
class PostgresDatabase {
    static async create() {
        const database = new PostgresDatabase();
        await database.psql(`CREATE DATABASE "${database.name}"`);
        return database;
    }

    constructor() {
        this.adminUrl = process.env.HEARTH_TEST_POSTGRES_URL || DEFAULT_POSTGRES_URL;
        this.name = `hearth_e2e_${randomBytes(6).toString("hex")}`;
        const url = new URL(this.adminUrl);
        url.pathname = `/${this.name}`;
        this.url = url.toString();
    }

    drop() {
        return this.psql(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
    }

    psql(sql) {
        return run("psql", [this.adminUrl, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]);
    }
}

/**
 * One `hearth serve` process on loopback. `start()` picks ports once; `restart()` keeps ports, data directory and
 * database, so the same server comes back (same server_name, users, rooms and sync tokens).
 */
export class HearthServer {
    constructor({ registrationOpen = true, tokenRequired = false } = {}, binary = hearthBinary()) {
        this.binary = binary;
        this.options = { registrationOpen, tokenRequired };
        this.workdir = mkdtempSync(join(tmpdir(), "hearth-e2e-node-"));
        this.dataDir = join(this.workdir, "data");
        this.configPath = join(this.workdir, "hearth.toml");
        this.logPath = join(this.workdir, "hearth.log");
        this.sharedSecret = randomBytes(16).toString("hex");
        this.clientPort = 0;
        this.federationPort = 0;
        this.database = null;
        this.process = null;
    }

    /** `127.0.0.1:<client port>`: an IP literal with a port. */
    get serverName() {
        return `127.0.0.1:${this.clientPort}`;
    }

    /** The client-server API's base URL. */
    get baseUrl() {
        return `http://127.0.0.1:${this.clientPort}`;
    }

    /** The full user ID of `localpart` on this server. */
    userId(localpart) {
        return `@${localpart}:${this.serverName}`;
    }

    /** Writes the config (first start only) and starts the server; resolves once /versions answers 200. */
    async start() {
        const firstStart = this.clientPort === 0;
        const attempts = firstStart ? 3 : 1;
        for (let attempt = 1; ; attempt++) {
            if (firstStart) await this.prepare();
            this.spawn();
            try {
                await this.waitUntilReady();
                return;
            } catch (error) {
                await this.stop();
                // A port taken between our probe and the server's bind: pick new ports and try again.
                if (attempt >= attempts || !this.logTail(20).toLowerCase().includes("address already in use")) throw error;
            }
        }
    }

    /** SIGTERM, then SIGKILL after the stop bound; resolves when the process is gone. A no-op when not running. */
    async stop() {
        const child = this.process;
        if (!child) return;
        this.process = null;
        if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((done) => child.once("exit", done));
            child.kill("SIGTERM");
            const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT).then(() => false)]);
            if (!stopped) {
                child.kill("SIGKILL");
                await Promise.race([exited, sleep(STOP_TIMEOUT)]);
            }
        }
    }

    /** Stops and starts again with the same ports, config, data directory and database. */
    async restart() {
        await this.stop();
        await this.start();
    }

    /** Stops the server and drops its PostgreSQL database, if any. */
    async close() {
        await this.stop();
        if (this.database) {
            await this.database.drop();
            this.database = null;
        }
    }

    /** Runs `hearth --config <ours> admin <args>` against this server's database; resolves to its stdout. */
    admin(...args) {
        return run(this.binary, ["--config", this.configPath, "admin", ...args]);
    }

    /** A registration token from `hearth admin invite create --uses N --json` (its `token` field). */
    async createInviteToken(uses = 1) {
        const output = await this.admin("invite", "create", "--uses", String(uses), "--json");
        const token = JSON.parse(output)?.token;
        if (typeof token !== "string") throw new Error(`hearth admin invite create --json printed no token: ${output}`);
        return token;
    }

    /** Creates a user through the Synapse-compatible /_synapse/admin/v1/register (nonce + HMAC-SHA1). */
    async registerWithSharedSecret(localpart, password, admin = false) {
        const url = `${this.baseUrl}/_synapse/admin/v1/register`;
        const nonce = await httpJson("GET", url);
        if (nonce.status !== 200) throw new Error(`GET ${url}: ${nonce.status} ${JSON.stringify(nonce.body)}`);
        const mac = createHmac("sha1", this.sharedSecret)
            .update([nonce.body.nonce, localpart, password, admin ? "admin" : "notadmin"].join("\0"))
            .digest("hex");
        const registered = await httpJson("POST", url, {
            nonce: nonce.body.nonce, username: localpart, password, admin, mac,
        });
        if (registered.status !== 200) throw new Error(`POST ${url}: ${registered.status} ${JSON.stringify(registered.body)}`);
        return registered.body;
    }

    /** The last lines of the server's log, for failure messages. */
    logTail(lines = 60) {
        try {
            return readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n");
        } catch {
            return "(no log)";
        }
    }

    async prepare() {
        this.clientPort = await freeLoopbackPort();
        do this.federationPort = await freeLoopbackPort(); while (this.federationPort === this.clientPort);
        mkdirSync(this.dataDir, { recursive: true });
        let config = readFileSync(this.configTemplate, "utf8");
        for (const [name, value] of Object.entries(await this.configValues())) config = config.replaceAll(`@${name}@`, value);
        writeFileSync(this.configPath, config);
    }

    get configTemplate() {
        return CONFIG_TEMPLATE;
    }

    async configValues() {
        let databaseUrl = `sqlite://${join(this.dataDir, "hearth.db")}`;
        if ((process.env.HEARTH_E2E_DATABASE ?? "sqlite") === "postgres") {
            this.database ??= await PostgresDatabase.create();
            databaseUrl = this.database.url;
        }
        return {
            SERVER_NAME: this.serverName,
            DATA_DIR: this.dataDir,
            CLIENT_PORT: String(this.clientPort),
            CLIENT_ADDR: `127.0.0.1:${this.clientPort}`,
            FEDERATION_ADDR: `127.0.0.1:${this.federationPort}`,
            DATABASE_URL: databaseUrl,
            REGISTRATION_OPEN: String(this.options.registrationOpen),
            TOKEN_REQUIRED: String(this.options.tokenRequired),
            SHARED_SECRET: this.sharedSecret,
            CLIENT_BASE_URL: this.baseUrl,
            LOG_LEVEL: process.env.HEARTH_E2E_LOG_LEVEL ?? "info",
        };
    }

    command() {
        return [this.binary, ["--config", this.configPath, "serve"]];
    }

    spawn() {
        appendFileSync(this.logPath, `--- hearth started by the e2e harness at ${new Date().toISOString()}\n`);
        const log = openSync(this.logPath, "a");
        // The server reads only its config file: no HEARTH_* overrides from the caller's environment.
        const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HEARTH_")));
        env.NO_COLOR = "1";
        const [program, args] = this.command();
        try {
            this.process = spawn(program, args, {
                cwd: this.workdir, env, stdio: ["ignore", log, log],
            });
        } finally {
            closeSync(log);
        }
        this.process.on("error", () => {});
    }

    async waitUntilReady() {
        const url = `${this.baseUrl}/_matrix/client/versions`;
        const deadline = Date.now() + START_TIMEOUT;
        while (Date.now() < deadline) {
            const child = this.process;
            if (!child || child.exitCode !== null || child.signalCode !== null) {
                throw new Error(`hearth exited (${child?.exitCode ?? child?.signalCode}) during start-up; log:\n${this.logTail()}`);
            }
            try {
                if ((await httpJson("GET", url)).status === 200) return;
            } catch {
                // not listening yet
            }
            await sleep(100);
        }
        throw new Error(`${url} did not answer 200 within ${START_TIMEOUT / 1000}s; log:\n${this.logTail()}`);
    }
}

/**
 * Synapse in Hearth's place (HEARTH_E2E_SERVER=synapse), to check a scenario against the reference server. Same
 * interface; `hearth admin invite create` becomes Synapse's admin API for registration tokens. SQLite only.
 */
export class SynapseServer extends HearthServer {
    constructor(options = {}) {
        const cache = process.env.HEARTH_CACHE || join(homedir(), ".cache", "hearth");
        super(options, process.env.HEARTH_E2E_SYNAPSE_PYTHON || join(cache, "synapse-venv", "bin", "python"));
        this.configPath = join(this.workdir, "homeserver.yaml");
        this.adminToken = null;
    }

    get configTemplate() {
        return join(REPO_ROOT, "e2e", "lib", "synapse.yaml.in");
    }

    async configValues() {
        const values = await super.configValues();
        // Synapse needs registration enabled for token registration too; the token requirement is separate.
        values.REGISTRATION_OPEN = String(this.options.registrationOpen || this.options.tokenRequired);
        return values;
    }

    async prepare() {
        await super.prepare();
        await run(this.binary, ["-m", "synapse.app.homeserver", "-c", this.configPath, "--generate-keys"]);
    }

    command() {
        return [this.binary, ["-m", "synapse.app.homeserver", "-c", this.configPath]];
    }

    admin() {
        throw new Error("the hearth admin CLI does not exist for Synapse");
    }

    async createInviteToken(uses = 1) {
        this.adminToken ??= (await this.registerWithSharedSecret("e2e-admin", randomBytes(8).toString("hex"), true)).access_token;
        const response = await fetch(`${this.baseUrl}/_synapse/admin/v1/registration_tokens/new`, {
            method: "POST",
            headers: { "Authorization": `Bearer ${this.adminToken}`, "Content-Type": "application/json" },
            body: JSON.stringify({ uses_allowed: uses }),
            signal: AbortSignal.timeout(HTTP_TIMEOUT),
        });
        return (await response.json()).token;
    }
}

/**
 * Starts a fresh server for test context `t` (Hearth, or Synapse when HEARTH_E2E_SERVER=synapse) and stops it
 * when the test ends, dropping its database. A failed test prints the server's log tail and keeps its folder; a
 * passed one removes it.
 */
export async function startHearth(t, options = {}) {
    const kind = process.env.HEARTH_E2E_SERVER ?? "hearth";
    if (kind !== "hearth" && kind !== "synapse") throw new Error(`HEARTH_E2E_SERVER=${kind} is neither hearth nor synapse`);
    const server = kind === "synapse" ? new SynapseServer(options) : new HearthServer(options);
    t.after(async () => {
        await server.close();
        if (t.passed) rmSync(server.workdir, { recursive: true, force: true });
        else t.diagnostic(`${server.logPath} (tail):\n${server.logTail()}`);
    });
    await server.start();
    return server;
}
