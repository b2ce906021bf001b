// What a person does in the VS Code window, as playwright-core calls: run a palette command,
// pick quick-pick rows, type into an input box, find tree rows and editor text. DOM facts:
// shared/e2e-recipe.md (gotchas 9-11).

/** Runs a palette command by its full title ("XP: Start Queue"). */
export async function runCommand(page, title) {
  const input = page.locator(".quick-input-widget .quick-input-box input");
  // A webview (Plots, Compare) that has the focus keeps F1 to itself: the workbench gets the focus
  // back first, and F1 is pressed again when the palette did not open on a busy machine.
  for (let attempt = 1; ; attempt++) {
    await page.evaluate(() => globalThis.document.activeElement?.blur()).catch(() => {});
    await page.keyboard.press("F1");
    try {
      await input.waitFor({ state: "visible", timeout: 10_000 });
      break;
    } catch (error) {
      if (attempt === 3) {
        throw new Error(`the command palette did not open for "${title}"`, { cause: error });
      }
      console.log(`e2e: note  the command palette did not open for "${title}"; pressing F1 again`);
    }
  }
  // fill() replaces the leading ">" of command mode, so it is typed again.
  await input.fill(`>${title}`);
  try {
    await quickPickRow(page, title).click({ timeout: 10_000 });
  } catch (error) {
    // Leave no palette open behind, or the next step would type into it.
    await page.keyboard.press("Escape");
    throw new Error(`no command titled "${title}" in the palette`, { cause: error });
  }
}

/** The quick-pick row whose label is exactly `label`. */
export function quickPickRow(page, label) {
  return page.locator(".quick-input-widget .quick-input-list .monaco-list-row")
    .filter({ has: page.locator(".label-name", { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) }).first();
}

/** Waits for the quick input whose title bar starts with `title` (so not the palette still closing). */
export async function waitForQuickInput(page, title) {
  await page.locator(".quick-input-widget .quick-input-title", { hasText: new RegExp(`^${escapeRegExp(title)}`) })
    .first().waitFor({ state: "visible" });
}

/** In a multi-select quick pick: filters to each label, ticks its row, then accepts; returns when Enter was pressed. */
export async function pickMany(page, labels) {
  const input = page.locator(".quick-input-widget .quick-input-box input");
  for (const label of labels) {
    await input.fill(label);
    const row = quickPickRow(page, label);
    await row.waitFor({ state: "visible" });
    await row.locator(".quick-input-list-checkbox, input[type=checkbox], .monaco-custom-toggle").first().click();
  }
  // The widget counts what is ticked; accepting before it says so could accept nothing.
  await page.locator(".quick-input-widget .quick-input-count", { hasText: String(labels.length) }).first()
    .waitFor({ state: "visible" });
  const accepted = Date.now();
  await input.press("Enter");
  return accepted;
}

/** Picks one row of a single-select quick pick after filtering to it. */
export async function pickOne(page, label) {
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.fill(label);
  await quickPickRow(page, label).click();
}

/** Types `value` into the open input box (replacing its proposal) and accepts it. */
export async function answerInputBox(page, title, value) {
  await waitForQuickInput(page, title);
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.fill(value);
  await input.press("Enter");
}

/** Tree rows in the side bar whose text contains every one of `texts`. */
export function treeRow(page, ...texts) {
  let rows = page.locator(".sidebar [role=treeitem]");
  for (const text of texts) {
    rows = rows.filter({ hasText: text });
  }
  return rows;
}

/** Rows of one view (by the title in its pane header) of the open container. */
export function viewRows(page, viewTitle) {
  return page.locator(".sidebar .pane").filter({ has: page.locator(".pane-header", { hasText: viewTitle }) })
    .locator("[role=treeitem]");
}

/** Text as a person reads it: Monaco draws spaces as no-break spaces. */
export function plain(text) {
  return text.replace(/\u00a0/g, " ");
}

/** The text of the visible lines of the active editor. */
export async function editorText(page) {
  return plain(await page.locator(".editor-instance .monaco-editor .view-lines").first().innerText());
}

/** Escapes text for use inside a RegExp. */
export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
