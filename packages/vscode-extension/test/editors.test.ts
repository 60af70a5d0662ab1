// The README's Neovim, Helix and Zed setups, replayed by the scripted LSP client: each editor's way of handing over
// settings (initializationOptions, the workspace/didChangeConfiguration it sends after initialize, its answers to
// workspace/configuration) and of changing them later. None of these editors runs here; their behaviour is taken
// from their sources: Neovim's client sends didChangeConfiguration after initialize only when `settings` is set;
// Helix sends its `config` as initializationOptions and again as didChangeConfiguration; Zed sends
// `initialization_options`, then a didChangeConfiguration with its `settings` (empty when unset).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DidChangeConfigurationNotification } from "vscode-languageserver-protocol/node";
import { itemsOf, LspClient, textOf } from "./lsp-client.js";

// hearth-tiny by its folder: a model named by path, so that losing the setting would show (status.model).
const TINY = fileURLToPath(new URL("../../../engine/models/hearth-tiny", import.meta.url));

interface Editor {
  name: string;
  capabilities: Record<string, unknown>;
  /** What the README snippet makes the editor send. */
  initializationOptions: Record<string, unknown>;
  /** The didChangeConfiguration the editor sends right after initialized (undefined: none). */
  afterInit?: unknown;
  /** The editor's answer to workspace/configuration { section: "hearth" }. */
  configurationAnswer: unknown;
  /** How a settings change reaches the server. */
  change: (s: Record<string, unknown>) => unknown;
}

const inlineCaps = { textDocument: { inlineCompletion: { dynamicRegistration: false }, synchronization: { dynamicRegistration: false } } };
const editors: Editor[] = [
  {
    name: "Neovim 0.11+ (vim.lsp.config init_options)",
    capabilities: { ...inlineCaps, workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false }, workspaceFolders: true } },
    initializationOptions: { debounceMs: 0, maxTokens: 64, model: TINY },
    configurationAnswer: null,
    // `settings = { hearth = {...} }` in vim.lsp.config, sent by client:notify("workspace/didChangeConfiguration").
    change: (s) => ({ settings: { hearth: s } }),
  },
  {
    name: "Helix (languages.toml config)",
    capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false }, workspaceFolders: true } },
    initializationOptions: { debounceMs: 0, maxTokens: 64, model: TINY },
    afterInit: { settings: { debounceMs: 0, maxTokens: 64, model: TINY } },
    configurationAnswer: null,
    change: (s) => ({ settings: s }),
  },
  {
    name: "Zed (lsp.hearth.initialization_options)",
    capabilities: { ...inlineCaps, workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true }, workspaceFolders: true } },
    initializationOptions: { debounceMs: 0, maxTokens: 64, model: TINY },
    afterInit: { settings: {} },
    configurationAnswer: {},
    // `lsp.hearth.settings` in settings.json.
    change: (s) => ({ settings: s }),
  },
];

describe("hearth-lsp with the README's editor setups (scripted clients)", () => {
  const ws = mkdtempSync(join(tmpdir(), "hearth-lsp-editors-"));
  after(() => rmSync(ws, { recursive: true, force: true }));

  for (const e of editors) {
    it(`${e.name}: settings arrive, survive the editor's own configuration messages, and change`, async () => {
      const c = new LspClient();
      try {
        c.conn.onRequest("workspace/configuration", (p: { items: unknown[] }) => p.items.map(() => e.configurationAnswer));
        const init = (await c.initialize(ws, e.initializationOptions, e.capabilities)) as { capabilities: Record<string, unknown> };
        assert.equal(init.capabilities.inlineCompletionProvider, true);
        if (e.afterInit !== undefined) await c.conn.sendNotification(DidChangeConfigurationNotification.type, e.afterInit as never);
        const s = await c.ready();
        assert.equal(s.model, TINY, "the model from the editor's settings is in use");
        const doc = pathToFileURL(join(ws, `${e.name.split(" ")[0]}.py`)).href;
        await c.open(doc, "python", "def add(x, y):\n    ");
        assert.match(textOf(itemsOf(await c.inline(doc, { line: 1, character: 4 }))[0]!), /^return\b/);
        // A change the editor's way: completion off.
        const before = await c.status();
        await c.conn.sendNotification(DidChangeConfigurationNotification.type, e.change({ debounceMs: 0, model: TINY, enabled: false }) as never);
        await c.type(doc, "r");
        assert.equal(await c.inline(doc, c.endPosition(doc)), null);
        assert.equal((await c.status()).modelCalls, before.modelCalls);
        assert.equal((await c.status()).model, TINY);
      } finally {
        await c.close();
      }
    });
  }
});
