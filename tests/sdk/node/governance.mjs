// Governance refusals through the official Node.js SDKs. One call per run:
//   node governance.mjs <openai|anthropic> <virtual key> <model> <ok|expected HTTP status>
// With "ok" the call must succeed; with a status it must be refused with the SDK's own error
// class for that status (and Retry-After on a 429). Exit 0 when that holds, 1 otherwise.
// Driven by tests/sdk/test_governance_errors.py.
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

const gateway = process.env.HEIMDALL_URL;
if (!gateway) throw new Error("HEIMDALL_URL is not set: run through tests/sdk/run.sh");

const [sdk, key, model, expected] = process.argv.slice(2);
const ask = [{ role: "user", content: "Hi" }];

const sdks = {
  openai: {
    Sdk: OpenAI,
    async call() {
      const client = new OpenAI({ baseURL: `${gateway}/openai/v1`, apiKey: key, maxRetries: 0 });
      const r = await client.chat.completions.create({ model, messages: ask });
      return r.choices[0].message.content;
    },
    // The openai SDK has no class of its own for 402: the base APIError.
    classes: { 401: "AuthenticationError", 402: "APIError", 403: "PermissionDeniedError", 429: "RateLimitError" },
  },
  anthropic: {
    Sdk: Anthropic,
    async call() {
      const client = new Anthropic({ baseURL: `${gateway}/anthropic`, apiKey: key, maxRetries: 0 });
      const m = await client.messages.create({ model, max_tokens: 50, messages: ask });
      return m.content[0].text;
    },
    classes: {
      401: "AuthenticationError", 402: "PaymentRequiredError", 403: "PermissionDeniedError", 429: "RateLimitError",
    },
  },
};

try {
  const s = sdks[sdk];
  if (!s) throw new Error(`unknown sdk: ${sdk}`);
  if (expected === "ok") {
    assert.ok(await s.call());
  } else {
    const status = Number(expected);
    const cls = s.Sdk[s.classes[status]];
    assert.ok(cls, `no class for ${status}`);
    await assert.rejects(s.call(), (e) => {
      assert.ok(e instanceof cls, `expected ${s.classes[status]}, got ${e?.constructor?.name}: ${e}`);
      assert.equal(e.status, status);
      if (cls === s.Sdk.APIError) assert.equal(e.constructor, cls, "no more specific class expected");
      if (status === 429) {
        const after = e.headers?.get("retry-after");
        assert.ok(Number(after) > 0, `Retry-After: ${after}`);
      }
      return true;
    });
  }
} catch (e) {
  console.error(e);
  process.exit(1);
}
