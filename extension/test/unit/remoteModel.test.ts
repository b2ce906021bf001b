// The remote-storage status-bar item, from `xp/listRemotes` answers and errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ADD_REMOTE, NO_CONFIG, brokenRemoteItem, remoteItem } from "../../src/remoteModel";

const FILES = ["/p/.xpconfig", "/p/.xpconfig.local"];
const REMOTES = [
  { name: "backup", url: "/mnt/backup", isDefault: false },
  { name: "store", url: "https://user:***@host/path", isDefault: true },
];

test("the default remote: its name, and its (redacted) url in the tooltip; a click opens the committed config", () => {
  const item = remoteItem({ default: "store", remotes: REMOTES, files: FILES });
  assert.equal(item.text, "$(cloud) store");
  assert.equal(item.tooltip,
    "Remote storage for outputs: https://user:***@host/path. Push and Pull on an experiment carry its outputs there.");
  assert.equal(item.file, "/p/.xpconfig");
  assert.equal(item.broken, false);
});

test("no remote: outputs stay on this machine, and the command that adds one; a click says it too", () => {
  const item = remoteItem({ default: null, remotes: [], files: [] });
  assert.equal(item.text, "$(cloud) no remote storage");
  assert.match(item.tooltip, /outputs stay on this machine/);
  assert.ok(item.tooltip.includes(ADD_REMOTE), item.tooltip);
  assert.equal(item.file, undefined);
  assert.equal(item.message, NO_CONFIG);
  assert.ok(NO_CONFIG.includes("xp remote add -d NAME URL"));
});

test("remotes without a default, and a default that names no remote", () => {
  const none = remoteItem({ default: null, remotes: REMOTES.map((r) => ({ ...r, isDefault: false })), files: FILES });
  assert.equal(none.text, "$(cloud) no default remote");
  assert.match(none.tooltip, /configured: backup, store\).*outputs stay on this machine.*xp remote default NAME/);
  const missing = remoteItem({ default: "gone", remotes: [], files: ["/p/.dvc/config"] });
  assert.equal(missing.text, "$(cloud) gone (not configured)");
  assert.match(missing.tooltip, /`xp remote add -d gone URL`/);
  assert.equal(missing.file, "/p/.dvc/config");
});

test("a name from the config never becomes an icon, and a long one is shortened in the bar only", () => {
  const odd = remoteItem({ default: "$(alert)x", remotes: [], files: [] });
  assert.ok(!odd.text.slice("$(cloud) ".length).includes("$("), odd.text);
  const long = "n".repeat(100);
  const item = remoteItem({ default: long, remotes: [{ name: long, url: "/u", isDefault: true }], files: [] });
  assert.equal(item.text, `$(cloud) ${"n".repeat(39)}…`);
});

test("a broken config: the helper's one line as the tooltip, the last known file still opens", () => {
  const item = brokenRemoteItem(
    ".xpconfig:3: the config does not parse (Invalid line) — fix that line\nmore", "/p/.xpconfig");
  assert.equal(item.text, "$(cloud) remote config broken");
  assert.equal(item.tooltip, ".xpconfig:3: the config does not parse (Invalid line) — fix that line");
  assert.equal(item.message, item.tooltip);
  assert.equal(item.file, "/p/.xpconfig");
  assert.equal(item.broken, true);
});
