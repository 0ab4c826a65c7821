// anthropic.mjs — the official Anthropic SDK against a running `llmkit serve`
// (tests/integration/serve.sh). Env: LLMKIT_URL, LLMKIT_MODEL, LLMKIT_KEY. Prints "ok NAME" per check.
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.LLMKIT_URL, apiKey: process.env.LLMKIT_KEY, maxRetries: 0 });
const model = process.env.LLMKIT_MODEL;
const ok = (name) => console.log(`ok ${name}`);
const params = { model, max_tokens: 10, temperature: 0, system: 'Be brief.',
                 messages: [{ role: 'user', content: 'Name three colours.' }] };

const msg = await client.messages.create(params);
assert.equal(msg.type, 'message');
assert.equal(msg.role, 'assistant');
assert.equal(msg.content[0].type, 'text');
assert.equal(msg.stop_reason, 'max_tokens');
assert.equal(msg.usage.output_tokens, 10);
assert.equal(typeof msg.usage.cache_read_input_tokens, 'number');
ok('sdk-anthropic-messages');

// raw events: the documented sequence (the SDK does not pass ping events on; serve.sh checks them)
const events = [];
let text = '';
for await (const ev of await client.messages.create({ ...params, stream: true })) {
  events.push(ev.type);
  if (ev.type === 'content_block_delta') text += ev.delta.text;
}
assert.deepEqual(events.slice(0, 2), ['message_start', 'content_block_start']);
assert.deepEqual(events.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
assert.ok(events.slice(2, -3).every((t) => t === 'content_block_delta' || t === 'ping'));
assert.equal(text, msg.content[0].text);
ok('sdk-anthropic-messages-stream');

// the stream helper accumulates the same message
const final = await client.messages.stream(params).finalMessage();
assert.equal(final.content[0].text, msg.content[0].text);
assert.equal(final.stop_reason, 'max_tokens');
assert.equal(final.usage.output_tokens, 10);
ok('sdk-anthropic-stream-helper');

await assert.rejects(client.messages.create({ ...params, model: 'no-such-model' }), (e) => e instanceof Anthropic.NotFoundError);
await assert.rejects(client.messages.create({ ...params, max_tokens: 0 }),
                     (e) => e instanceof Anthropic.BadRequestError && e.error?.error?.type === 'invalid_request_error');
ok('sdk-anthropic-errors');
