// Drives one headless Chromium page for tests/e2e/browser.rs: `node driver.js URL ARTIFACTS`
// opens URL, then reads one command a line on stdin (fields separated by tabs, since CSS
// selectors hold spaces) and answers one line on stdout, `ok [detail]` or `fail reason`. Commands:
//   wait MS SELECTOR TEXT   until the element's text contains TEXT (at most MS milliseconds)
//   click SELECTOR          clicks the element
//   loads                   how many times the page loaded (1 = never reloaded)
//   fill SELECTOR TEXT      types TEXT into the input
//   prompts                 how many prompt() dialogs the page opened
//   reload                  reloads the page
//   shot NAME               saves ARTIFACTS/NAME.png
// A prompt() is answered with $PROMPT_ANSWER (empty when unset), as a user typing it would.
// The browser closes on end of input, on every path.
'use strict';
const { chromium } = require('playwright-core');
const { mkdtempSync, rmSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const readline = require('node:readline');

const [url, artifacts] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'clusterd-chromium-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const context = await chromium.launchPersistentContext(profile,
    { executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
  try {
    const page = context.pages()[0] || await context.newPage();
    let loads = 0;
    page.on('load', () => { loads += 1; });
    let prompts = 0;
    page.on('dialog', async (dialog) => {
      prompts += 1;
      await dialog.accept(process.env.PROMPT_ANSWER || '');
    });
    await page.goto(url);
    console.log('ok ready');
    for await (const line of readline.createInterface({ input: process.stdin })) {
      const [command, ...rest] = line.replace(/\n$/, '').split('\t');
      try {
        if (command === 'wait') {
          const [ms, selector, ...text] = rest;
          await page.waitForFunction(([sel, want]) => (document.querySelector(sel)?.textContent || '').includes(want),
            [selector, text.join('\t')], { timeout: Number(ms), polling: 50 });
          console.log('ok');
        } else if (command === 'click') {
          await page.click(rest[0], { timeout: 10000 });
          console.log('ok');
        } else if (command === 'loads') {
          console.log(`ok ${loads}`);
        } else if (command === 'fill') {
          await page.fill(rest[0], rest.slice(1).join('\t'), { timeout: 10000 });
          console.log('ok');
        } else if (command === 'prompts') {
          console.log(`ok ${prompts}`);
        } else if (command === 'reload') {
          await page.reload();
          console.log('ok');
        } else if (command === 'shot') {
          await page.screenshot({ path: join(artifacts, `${rest[0]}.png`), fullPage: true });
          console.log('ok');
        } else {
          console.log(`fail unknown command ${command}`);
        }
      } catch (err) {
        const text = await page.evaluate((sel) => document.querySelector(sel)?.textContent, rest[1] || 'body').catch(() => '?');
        console.log(`fail ${String(err.message).split('\n')[0]} (text now: ${JSON.stringify(text)})`);
      }
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => { console.log(`fail ${err.message.split('\n')[0]}`); process.exit(1); });
