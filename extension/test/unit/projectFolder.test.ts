// Which folder the helper serves in a multi-root workspace.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type FolderFacts, chooseFolder, folderDescription, servedMessage } from "../../src/projectFolder";

const folder = (name: string, git: boolean, pipeline: boolean): FolderFacts => ({ name, uri: `file:///w/${name}`, git, pipeline });
const docs = folder("docs", false, false);
const lib = folder("lib", true, false);
const ml = folder("ml", true, true);
const ml2 = folder("ml2", true, true);

test("without a choice: the first git repository with a pipeline; else what the first folder lacks", () => {
  assert.deepEqual(chooseFolder([], undefined), { ok: false, folder: undefined, why: "noFolder" });
  assert.deepEqual(chooseFolder([ml], undefined), { ok: true, folder: ml, why: "only" });
  assert.deepEqual(chooseFolder([docs, lib, ml, ml2], undefined), { ok: true, folder: ml, why: "first project" });
  assert.deepEqual(chooseFolder([docs, lib], undefined), { ok: false, folder: docs, why: "noPipeline" });
  assert.deepEqual(chooseFolder([docs], undefined), { ok: false, folder: docs, why: "noRepo" });
});

test("a chosen folder wins while it is open, even when it is not a project yet", () => {
  assert.deepEqual(chooseFolder([docs, ml, ml2], ml2.uri), { ok: true, folder: ml2, why: "chosen" });
  assert.deepEqual(chooseFolder([docs, ml], docs.uri), { ok: false, folder: docs, why: "noRepo" });
  assert.deepEqual(chooseFolder([lib, ml], lib.uri), { ok: false, folder: lib, why: "noPipeline" });
  assert.deepEqual(chooseFolder([docs, ml], "file:///w/closed"), { ok: true, folder: ml, why: "first project" });
});

test("the picker and the message name the folder and say what it is", () => {
  assert.equal(folderDescription(ml, true), "git repository with a pipeline — served now");
  assert.equal(folderDescription(lib, false), "git repository, no pipeline (dvc.yaml)");
  assert.equal(folderDescription(docs, false), "not a git repository");
  assert.equal(servedMessage(ml, 3), "XP serves the project in folder 'ml' (one of 3 open folders); XP: Select Project Folder changes it.");
});
