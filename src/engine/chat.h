/* chat.h — chat templates: turning a list of messages into the prompt text a model expects.
 *
 * A GGUF carries its chat template as Jinja source (tokenizer.chat_template). llmkit does not run
 * Jinja: it recognises the common families by distinctive substrings, as llama.cpp does, and
 * renders each family with a small hand-written function whose output matches the family's
 * Hugging Face template (rendered with trim_blocks and lstrip_blocks) for conversations of
 * system, user and assistant messages. Where a family has no place for a system message its
 * text joins a user turn, as the newer templates of the family do (see chat_render()). Trimming
 * ("trimmed", "stripped" below) removes ASCII whitespace only, where Jinja's would also remove
 * Unicode spaces such as U+00A0.
 *
 * Families (names for --chat-template):
 *   llama3             <|start_header_id|>role<|end_header_id|>\n\n{content, trimmed}<|eot_id|>
 *                      (Llama 3 and 3.x; 3.1+'s "Cutting Knowledge Date" preamble is not added)
 *   chatml             <|im_start|>role\n{content}<|im_end|>\n (Qwen, Hermes, ...; Qwen 2.5's
 *                      default system prompt is not added)
 *   llama2             <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>
 *                      <s>[INST] {user} [/INST] (user and assistant text stripped)
 *   mistral-v1         <s> [INST] {system}\n\n{user} [/INST] {assistant}</s> (Mistral 7B v0.1/
 *                      v0.2, Mixtral; also any other "[INST]" template without <<SYS>>)
 *   mistral-v3         <s>[INST] {user}[/INST] {assistant, trimmed}</s>; the system text goes
 *                      before the last user message (Mistral 7B v0.3)
 *   mistral-v3-tekken  as v3 without the spaces and without trimming (Mistral Nemo)
 *   mistral-v7         <s>[SYSTEM_PROMPT] {system}[/SYSTEM_PROMPT][INST] {user}[/INST]
 *                      {assistant}</s> (Mistral Large 2411)
 *   mistral-v7-tekken  as v7 without the spaces (Mistral Small 3.x, Devstral)
 *   gemma              <bos><start_of_turn>user\n{system}\n\n{user, trimmed}<end_of_turn>\n
 *                      <start_of_turn>model\n{assistant, trimmed}<end_of_turn>\n (Gemma 1-3)
 *   phi3               <|role|>\n{content}<|end|>\n; without a generation prompt the text
 *                      ends with EOS (Phi-3, Phi-3.5)
 *   zephyr             <|role|>\n{content}</s>\n (Zephyr, TinyLlama chat)
 *   deepseek           ### Instruction:\n{user}\n### Response:\n{assistant}\n<|EOT|>\n
 *                      (DeepSeek Coder, with its default system prompt when none is given)
 *   vicuna             USER: {user}\nASSISTANT: {assistant}</s>\n (Vicuna 1.1) */
#ifndef LK_CHAT_H
#define LK_CHAT_H

#include "llmkit.h"
#include "base/base.h"

/* A chat message. role is "system", "user" or "assistant"; content is UTF-8 text (NULL is
 * taken as empty). Tool messages come later. */
typedef struct lk_chat_msg {
    const char *role;
    const char *content;
} lk_chat_msg;

/* Template ids, in the order of chat_template_known_names(). */
enum chat_template_id {
    CHAT_LLAMA3,
    CHAT_CHATML,
    CHAT_LLAMA2,
    CHAT_MISTRAL_V1,
    CHAT_MISTRAL_V3,
    CHAT_MISTRAL_V3_TEKKEN,
    CHAT_MISTRAL_V7,
    CHAT_MISTRAL_V7_TEKKEN,
    CHAT_GEMMA,
    CHAT_PHI3,
    CHAT_ZEPHYR,
    CHAT_DEEPSEEK,
    CHAT_VICUNA,
    CHAT_TEMPLATE_COUNT
};

/* The family of a Jinja template source (a GGUF's tokenizer.chat_template), recognised by
 * distinctive substrings; a bare family name is accepted too. Returns -1 for NULL or a
 * template of no known family (including families such as Phi-4 or ChatGLM whose markers
 * resemble a known one but whose format differs). */
int chat_template_detect(const char *jinja_src);

/* The id for a family name such as "chatml" (ASCII case ignored), or -1. */
int chat_template_from_name(const char *name);

/* The name of a template id ("llama3"), or NULL for an id out of range. */
const char *chat_template_name(int id);

/* All family names, comma separated ("llama3, chatml, ..."), for error messages and --help. */
const char *chat_template_known_names(void);

/* A representative Jinja source of the family: the template its best-known models ship on
 * Hugging Face (Meta-Llama-3-8B-Instruct, OpenHermes chatml, Llama-2-chat, Mistral 7B v0.1 and
 * v0.3, Mistral Nemo, Mistral Large 2411, the core of Mistral Small 3's, Gemma 3, Phi-3.5-mini,
 * Zephyr 7B beta, DeepSeek Coder, Vicuna 1.1). chat_template_detect() maps it back to id, and
 * chat_render() writes what it renders to. NULL for an id out of range. */
const char *chat_template_source(int id);

/* The text that ends an assistant turn in this family ("<|eot_id|>", "<|im_end|>",
 * "<end_of_turn>", ...), a natural stop string; NULL where the turn ends with the model's EOS
 * token (llama2, mistral, zephyr, vicuna) or for an id out of range. */
const char *chat_template_end_of_turn(int id);

/* Render n messages with template id, appending the prompt text to *out. With
 * add_generation_prompt the text ends with the opening of an assistant turn, where the
 * families that have one need it (llama2 and mistral have none: their prompt ends with
 * [/INST]).
 *
 * bos_text is written where the family's template writes bos_token; pass NULL or "" when the
 * tokenizer adds BOS itself. eos_text is written where the template writes eos_token; NULL
 * means the family's usual one ("</s>", or "<|endoftext|>" for phi3).
 *
 * System messages: llama3, chatml, mistral-v7*, phi3, zephyr, deepseek and vicuna give them a
 * place of their own. llama2, mistral-v1 and gemma put the system text at the start of the
 * next user message (several are joined by a blank line); mistral-v3* put it before the last
 * user message, as their templates do (which drop it when an assistant message comes last;
 * llmkit keeps it). phi3 drops an empty system message, as its template does. Unlike the Jinja
 * templates, roles need not alternate and system messages may come anywhere.
 *
 * Returns 0, or LK_EINVAL (nothing appended) for an unknown id, a message without a role or
 * with a role other than system, user and assistant, or a system message that a family of the
 * second kind has no user message to put it in; the message names the message's index and
 * role. */
int chat_render(int id, const lk_chat_msg *msgs, size_t n, bool add_generation_prompt,
                const char *bos_text, const char *eos_text, lk_buf *out, lk_error *err);

/* Choose the template for a model: name (e.g. from --chat-template) when given and not empty,
 * else the family detected in the model's template source jinja_src (may be NULL). Sets *id
 * and returns 0; or returns LK_EINVAL for an unknown name, or LK_EUNSUPPORTED when the model
 * has no template or one of no known family, with a message that lists the known names. */
int chat_template_resolve(const char *name, const char *jinja_src, int *id, lk_error *err);

#endif
