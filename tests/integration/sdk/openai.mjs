// openai.mjs — the official OpenAI SDK against a running `llmkit serve` (tests/integration/serve.sh).
// Env: LLMKIT_URL (http://127.0.0.1:PORT), LLMKIT_MODEL, LLMKIT_KEY. Prints "ok NAME" per check.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.env.LLMKIT_URL}/v1`, apiKey: process.env.LLMKIT_KEY, maxRetries: 0 });
const model = process.env.LLMKIT_MODEL;
const ok = (name) => console.log(`ok ${name}`);
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Name three colours.' }];

// chat, whole and streamed: at temperature 0 with a seed the texts are identical
const whole = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, seed: 7 });
assert.equal(whole.object, 'chat.completion');
assert.equal(whole.model, model);
assert.equal(whole.choices[0].message.role, 'assistant');
assert.equal(typeof whole.choices[0].message.content, 'string');
assert.equal(whole.choices[0].finish_reason, 'length');
assert.equal(whole.usage.completion_tokens, 12);
assert.equal(typeof whole.usage.prompt_tokens_details.cached_tokens, 'number');
ok('sdk-openai-chat');

const stream = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, seed: 7, stream: true,
                                                      stream_options: { include_usage: true } });
let text = '', usage = null, finish = null, chunks = 0;
for await (const chunk of stream) {
  chunks++;
  assert.equal(chunk.object, 'chat.completion.chunk');
  if (chunk.choices.length) {
    text += chunk.choices[0].delta.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}
assert.ok(chunks > 2);
assert.equal(text, whole.choices[0].message.content);
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 12);
ok('sdk-openai-chat-stream');

// the helper that accumulates a stream into a completion
const runner = client.chat.completions.stream({ model, messages, max_tokens: 12, temperature: 0, seed: 7 });
const final = await runner.finalChatCompletion();
assert.equal(final.choices[0].message.content, whole.choices[0].message.content);
ok('sdk-openai-chat-stream-helper');

// legacy completions
const comp = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
assert.equal(comp.object, 'text_completion');
assert.equal(typeof comp.choices[0].text, 'string');
assert.equal(comp.usage.completion_tokens, 8);
let ctext = '';
for await (const c of await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0,
                                                        stream: true })) ctext += c.choices[0]?.text ?? '';
assert.equal(ctext, comp.choices[0].text);
ok('sdk-openai-completions');

// embeddings (the SDK asks for base64 and decodes it)
const emb = await client.embeddings.create({ model, input: ['the cat sat', 'stocks fell'] });
assert.equal(emb.data.length, 2);
assert.ok(emb.data[0].embedding.length > 0);
const norm = Math.sqrt(emb.data[0].embedding.reduce((s, x) => s + x * x, 0));
assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
const embf = await client.embeddings.create({ model, input: 'the cat sat', encoding_format: 'float' });
assert.ok(Math.abs(embf.data[0].embedding[0] - emb.data[0].embedding[0]) < 1e-6);
ok('sdk-openai-embeddings');

// models
const list = await client.models.list();
assert.ok(list.data.some((m) => m.id === model));
const one = await client.models.retrieve(model);
assert.equal(one.id, model);
ok('sdk-openai-models');

// errors come back as the SDK's typed errors
await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages }),
                     (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
await assert.rejects(client.chat.completions.create({ model, messages, max_tokens: -1 }),
                     (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
await assert.rejects(new OpenAI({ baseURL: `${process.env.LLMKIT_URL}/v1`, apiKey: 'wrong', maxRetries: 0 })
                       .chat.completions.create({ model, messages }),
                     (e) => e instanceof OpenAI.AuthenticationError);
ok('sdk-openai-errors');
