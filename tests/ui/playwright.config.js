// Playwright against the gateway that tests/ui/run.sh starts, in Debian's Chromium (headless):
// no browser is downloaded.
const {defineConfig} = require('@playwright/test');

module.exports = defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.js/,
  timeout: 60_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.HEIMDALL_URL,
    headless: true,
    viewport: {width: 1280, height: 860},
    launchOptions: {executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox']},
    trace: 'off',
  },
});
