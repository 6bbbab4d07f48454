// The official Node.js SDKs against Heimdall. One case per run:
//   node cases.mjs <openai|anthropic> <case>
// Exit 0 when the case holds; otherwise the failed assertion is printed and the exit code is 1.
// Driven by tests/sdk/test_node_sdks.py so that the results join the SDK x mode table.
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import Anthropic from "@anthropic-ai/sdk";
import Groq from "groq-sdk";

const gateway = process.env.HEIMDALL_URL;
if (!gateway) throw new Error("HEIMDALL_URL is not set: run through tests/sdk/run.sh");

const openai = new OpenAI({ baseURL: `${gateway}/openai/v1`, apiKey: "unused", maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: `${gateway}/anthropic`, apiKey: "unused", maxRetries: 0 });

const weatherOpenAI = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
}];
const weatherAnthropic = [{
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const ask = (content) => [{ role: "user", content }];

const openaiCases = {
  async plain(model = "mock/gpt-4o-mini") {
    const r = await openai.chat.completions.create({ model: `${model};chunks=3`, messages: ask("Hi") });
    assert.equal(r.choices[0].message.content, "Hello from the");
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.usage.completion_tokens, 3);
  },
  async stream(model = "mock/gpt-4o-mini") {
    const stream = await openai.chat.completions.create({
      model: `${model};chunks=4`, messages: ask("Hi"), stream: true, stream_options: { include_usage: true },
    });
    let text = "", finish = null, usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      if (!chunk.choices.length) continue;
      text += chunk.choices[0].delta.content ?? "";
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    assert.equal(text, "Hello from the mock");
    assert.equal(finish, "stop");
    assert.equal(usage?.completion_tokens, 4);
  },
  async tool_call(model = "mock/gpt-4o") {
    const r = await openai.chat.completions.create({
      model, messages: ask("Weather in Paris?"), tools: weatherOpenAI, tool_choice: "required",
    });
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    assert.equal(call.function.name, "get_weather");
    assert.equal(typeof JSON.parse(call.function.arguments), "object");
  },
  async streamed_tool_call(model = "mock/gpt-4o") {
    // The SDK's own helper assembles the streamed tool-call deltas.
    const stream = openai.chat.completions.stream({
      model: `${model};chunks=4`, messages: ask("Weather in Paris?"), tools: weatherOpenAI, tool_choice: "required",
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, "get_weather");
    assert.equal(typeof JSON.parse(call.function.arguments), "object");
    assert.equal(final.choices[0].finish_reason, "tool_calls");
  },
  // Cross-dialect: the OpenAI SDK talking to a Claude model through the Anthropic provider.
  async claude_streamed_tool_call() {
    await openaiCases.streamed_tool_call("anthropic/claude-sonnet-4-5");
  },
  async embeddings() {
    const r = await openai.embeddings.create({ model: "mock/text-embedding-3-small", input: ["one", "two"] });
    assert.equal(r.data.length, 2);
    assert.ok(r.data[0].embedding.length > 0);
  },
  async errors() {
    await assert.rejects(
      openai.chat.completions.create({ model: "nope/model", messages: ask("Hi") }),
      (e) => e instanceof OpenAI.NotFoundError,
    );
    await assert.rejects(
      openai.chat.completions.create({ model: "mock/gpt-4o", messages: [] }),
      (e) => e instanceof OpenAI.BadRequestError,
    );
  },
};

const anthropicCases = {
  async plain(model = "anthropic/claude-sonnet-4-5") {
    const m = await anthropic.messages.create({
      model: `${model};chunks=3`, max_tokens: 100, system: "Be brief.", messages: ask("Hi"),
    });
    assert.equal(m.type, "message");
    assert.equal(m.content[0].type, "text");
    assert.equal(m.content[0].text, "Hello from the");
    assert.equal(m.stop_reason, "end_turn");
    assert.equal(m.usage.output_tokens, 3);
  },
  async stream(model = "anthropic/claude-sonnet-4-5") {
    const stream = anthropic.messages.stream({ model: `${model};chunks=4`, max_tokens: 100, messages: ask("Hi") });
    let text = "";
    stream.on("text", (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.equal(text, "Hello from the mock");
    assert.equal(final.stop_reason, "end_turn");
  },
  async tool_call(model = "anthropic/claude-sonnet-4-5") {
    const m = await anthropic.messages.create({
      model, max_tokens: 100, tools: weatherAnthropic, tool_choice: { type: "any" }, messages: ask("Weather in Paris?"),
    });
    const tool = m.content.find((b) => b.type === "tool_use");
    assert.equal(tool.name, "get_weather");
    assert.deepEqual(tool.input, { city: "mock" });
    assert.equal(m.stop_reason, "tool_use");
  },
  async streamed_tool_call(model = "anthropic/claude-sonnet-4-5") {
    const stream = anthropic.messages.stream({
      model: `${model};chunks=4`, max_tokens: 100, tools: weatherAnthropic, tool_choice: { type: "any" },
      messages: ask("Weather in Paris?"),
    });
    const final = await stream.finalMessage();
    const tool = final.content.find((b) => b.type === "tool_use");
    assert.equal(tool.name, "get_weather");
    assert.deepEqual(tool.input, { city: "mock" });
    assert.equal(final.stop_reason, "tool_use");
  },
  // Cross-dialect: the Anthropic SDK talking to an OpenAI-compatible model.
  async openai_streamed_tool_call() {
    await anthropicCases.streamed_tool_call("mock/gpt-4o");
  },
  async errors() {
    await assert.rejects(
      anthropic.messages.create({ model: "nope/model", max_tokens: 10, messages: ask("Hi") }),
      (e) => e instanceof Anthropic.NotFoundError,
    );
    await assert.rejects(
      anthropic.messages.create({ model: "mock/gpt-4o", max_tokens: 10, messages: [] }),
      (e) => e instanceof Anthropic.BadRequestError,
    );
  },
};

// The Responses API through the same OpenAI client: to an OpenAI-compatible model and to Claude.
const weatherResponses = [{
  type: "function", name: "get_weather", description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const responsesCases = {
  async plain() {
    for (const model of ["mock/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]) {
      const r = await openai.responses.create({ model: `${model};chunks=3`, input: "Hi" });
      assert.equal(r.status, "completed");
      assert.equal(r.output_text, "Hello from the");
      assert.equal(r.usage.output_tokens, 3);
    }
  },
  async stream() {
    for (const model of ["mock/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]) {
      const stream = await openai.responses.create({ model: `${model};chunks=4`, input: "Hi", stream: true });
      let text = "", last = null;
      for await (const event of stream) {
        if (event.type === "response.output_text.delta") text += event.delta;
        last = event;
      }
      assert.equal(text, "Hello from the mock");
      assert.equal(last.type, "response.completed");
      assert.equal(last.response.output_text ?? last.response.output[0].content[0].text, text);
    }
  },
  async tool_call() {
    for (const model of ["mock/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]) {
      const first = await openai.responses.create({ model, input: "Weather in Paris?", tools: weatherResponses });
      const call = first.output.find((o) => o.type === "function_call");
      assert.equal(call.name, "get_weather");
      const second = await openai.responses.create({
        model: `${model};chunks=2`, previous_response_id: first.id, tools: weatherResponses,
        input: [{ type: "function_call_output", call_id: call.call_id, output: "18C" }],
      });
      assert.equal(second.output_text, "Hello from");
    }
  },
  async streamed_tool_call() {
    const stream = openai.responses.stream({ model: "anthropic/claude-sonnet-4-5", input: "Weather?", tools: weatherResponses });
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === "function_call");
    assert.deepEqual(JSON.parse(call.arguments), { city: "mock" });
  },
  async errors() {
    await assert.rejects(
      openai.responses.create({ model: "mock/gpt-4o-mini", previous_response_id: "resp_missing", input: "Hi" }),
      (e) => e instanceof OpenAI.NotFoundError,
    );
  },
};

// groq-sdk appends its own `/openai/v1` to the base URL: the app's one base URL (`…/v1`) and
// the bare root must both reach the gateway's OpenAI routes.
const groqAt = (suffix) => new Groq({ baseURL: `${gateway}${suffix}`, apiKey: "unused", maxRetries: 0 });
const groqCases = {
  async plain() {
    for (const suffix of ["/v1", ""]) {
      const r = await groqAt(suffix).chat.completions.create({ model: "mock/llama-3.1-8b-instant;chunks=3", messages: ask("Hi") });
      assert.equal(r.choices[0].message.content, "Hello from the");
    }
  },
  async stream() {
    for (const suffix of ["/v1", ""]) {
      const stream = await groqAt(suffix).chat.completions.create({
        model: "mock/llama-3.1-8b-instant;chunks=4", messages: ask("Hi"), stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      assert.equal(text, "Hello from the mock");
    }
  },
  async tool_call() {
    const r = await groqAt("/v1").chat.completions.create({
      model: "mock/llama-3.1-8b-instant", messages: ask("Weather in Paris?"), tools: weatherOpenAI, tool_choice: "required",
    });
    assert.equal(r.choices[0].message.tool_calls[0].function.name, "get_weather");
  },
  async errors() {
    await assert.rejects(
      groqAt("/v1").chat.completions.create({ model: "nope/model", messages: ask("Hi") }),
      (e) => e instanceof Groq.NotFoundError,
    );
  },
};

// Audio and images through the same OpenAI client: speech bytes, a real WAV transcribed
// (multipart as the Node SDK encodes it), an image generated.
const wav = (seconds, rate = 16000) => {
  const samples = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + samples * 2);
  b.write("RIFF", 0); b.writeUInt32LE(36 + samples * 2, 4); b.write("WAVE", 8);
  b.write("fmt ", 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write("data", 36); b.writeUInt32LE(samples * 2, 40);
  return b;
};
const mediaCases = {
  async speech() {
    const r = await openai.audio.speech.create({ model: "mock/tts-1", voice: "alloy", input: "hello audio", response_format: "wav" });
    const audio = Buffer.from(await r.arrayBuffer());
    assert.equal(audio.subarray(0, 4).toString(), "RIFF");
    assert.equal(audio.subarray(8, 12).toString(), "WAVE");
  },
  async transcription() {
    const audio = wav(0.5);
    const t = await openai.audio.transcriptions.create({
      model: "mock/whisper-1", file: await toFile(audio, "note.wav", { type: "audio/wav" }),
    });
    assert.equal(t.text, `mock transcription of note.wav (${audio.length} bytes, 0.50 s)`);
  },
  async image() {
    const r = await openai.images.generate({ model: "mock/gpt-image-1", prompt: "a lighthouse", response_format: "b64_json" });
    const png = Buffer.from(r.data[0].b64_json, "base64");
    assert.equal(png.subarray(1, 4).toString(), "PNG");
  },
  async errors() {
    await assert.rejects(
      openai.audio.transcriptions.create({ model: "mock/whisper-1", file: await toFile(Buffer.alloc(25 * 1024 * 1024 + 1), "big.wav") }),
      (e) => e instanceof OpenAI.APIError && e.status === 413,
    );
  },
};

const [sdk, name] = process.argv.slice(2);
const cases = { openai: openaiCases, anthropic: anthropicCases, "openai-responses": responsesCases, groq: groqCases, "openai-media": mediaCases }[sdk];
if (name === "--list") {
  console.log(Object.keys(cases ?? {}).join("\n"));
} else if (!cases?.[name]) {
  console.error(`unknown case: ${sdk} ${name}`);
  process.exit(2);
} else {
  try {
    await cases[name]();
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
}
