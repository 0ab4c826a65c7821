/* chat.c — chat template families: detection from Jinja source, and rendering.
 *
 * Detection looks for the substrings that set a family apart (the same hints llama.cpp's
 * llm_chat_detect_template uses, checked in an order that keeps look-alikes apart). Rendering
 * is one small function per family, or per group of families that differ only in spaces; each
 * writes what the family's Hugging Face template writes for system, user and assistant
 * messages (checked against Jinja renderings of the sources below in tests/unit/test_chat.c).
 *
 * The sources are the representative templates that chat_template_source() hands out, e.g. for
 * `llmkit gguf random` to embed a real template in a generated model. */
#include "chat.h"

/* ---- representative sources ---- */

static const char src_llama3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_he"
    "ader_id|>' + message['role'] + '<|end_header_id|>\n"
    "\n"
    "'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_toke"
    "n + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_head"
    "er_id|>assistant<|end_header_id|>\n"
    "\n"
    "' }}{% endif %}";

static const char src_chatml[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n"
    "' + message['content'] + '<|im_end|>' + '\n"
    "'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n"
    "' }}{% endif %}";

static const char src_llama2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_mess"
    "age = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message"
    " = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (lo"
    "op.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/"
    "assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content"
    " = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set c"
    "ontent = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST"
    "] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content."
    "strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

static const char src_mistral_v1[] =
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
    "        {{- raise_exception('After the optional system message, conversation roles must alternat"
    "e user/assistant/user/assistant/...') }}\n"
    "    {%- endif %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {%- if loop.first and system_message is defined %}\n"
    "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
    "        {%- else %}\n"
    "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- ' ' + message['content'] + eos_token}}\n"
    "    {%- else %}\n"
    "        {{- raise_exception('Only user and assistant roles are supported, with the exception of "
    "an initial optional system message!') }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char src_mistral_v3[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n"
    "\n"
    "{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}"
    "\n"
    "{%- set ns = namespace() %}\n"
    "{%- set ns.index = 0 %}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_ca"
    "lls is defined and message.tool_calls is not none)) %}\n"
    "        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n"
    "            {{- raise_exception(\"After the optional system message, conversation roles must alt"
    "ernate user/assistant/user/assistant/...\") }}\n"
    "        {%- endif %}\n"
    "        {%- set ns.index = ns.index + 1 %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
    "            {{- \"[AVAILABLE_TOOLS] [\" }}\n"
    "            {%- for tool in tools %}\n"
    "                {%- set tool = tool.function %}\n"
    "                {{- '{\"type\": \"function\", \"function\": {' }}\n"
    "                {%- for key, val in tool.items() if key != \"return\" %}\n"
    "                    {%- if val is string %}\n"
    "                        {{- '\"' + key + '\": \"' + val + '\"' }}\n"
    "                    {%- else %}\n"
    "                        {{- '\"' + key + '\": ' + val|tojson }}\n"
    "                    {%- endif %}\n"
    "                    {%- if not loop.last %}\n"
    "                        {{- \", \" }}\n"
    "                    {%- endif %}\n"
    "                {%- endfor %}\n"
    "                {{- \"}}\" }}\n"
    "                {%- if not loop.last %}\n"
    "                    {{- \", \" }}\n"
    "                {%- else %}\n"
    "                    {{- \"]\" }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "            {{- \"[/AVAILABLE_TOOLS]\" }}\n"
    "            {%- endif %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }"
    "}\n"
    "        {%- else %}\n"
    "            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message.tool_calls is defined and message.tool_calls is not none %}\n"
    "        {{- \"[TOOL_CALLS] [\" }}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- set out = tool_call.function|tojson %}\n"
    "            {{- out[:-1] }}\n"
    "            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n"
    "                {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9"
    "!\") }}\n"
    "            {%- endif %}\n"
    "            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n"
    "            {%- if not loop.last %}\n"
    "                {{- \", \" }}\n"
    "            {%- else %}\n"
    "                {{- \"]\" + eos_token }}\n"
    "            {%- endif %}\n"
    "        {%- endfor %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- \" \" + message[\"content\"]|trim + eos_token}}\n"
    "    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n"
    "        {%- if message.content is defined and message.content.content is defined %}\n"
    "            {%- set content = message.content.content %}\n"
    "        {%- else %}\n"
    "            {%- set content = message.content %}\n"
    "        {%- endif %}\n"
    "        {{- '[TOOL_RESULTS] {\"content\": ' + content|string + \", \" }}\n"
    "        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n"
    "            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\")"
    " }}\n"
    "        {%- endif %}\n"
    "        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n"
    "    {%- else %}\n"
    "        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of"
    " an initial optional system message!\") }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char src_mistral_v3_tekken[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n"
    "\n"
    "{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}"
    "\n"
    "{%- set ns = namespace() %}\n"
    "{%- set ns.index = 0 %}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_ca"
    "lls is defined and message.tool_calls is not none)) %}\n"
    "        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n"
    "            {{- raise_exception(\"After the optional system message, conversation roles must alt"
    "ernate user/assistant/user/assistant/...\") }}\n"
    "        {%- endif %}\n"
    "        {%- set ns.index = ns.index + 1 %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
    "            {{- \"[AVAILABLE_TOOLS][\" }}\n"
    "            {%- for tool in tools %}\n"
    "                {%- set tool = tool.function %}\n"
    "                {{- '{\"type\": \"function\", \"function\": {' }}\n"
    "                {%- for key, val in tool.items() if key != \"return\" %}\n"
    "                    {%- if val is string %}\n"
    "                        {{- '\"' + key + '\": \"' + val + '\"' }}\n"
    "                    {%- else %}\n"
    "                        {{- '\"' + key + '\": ' + val|tojson }}\n"
    "                    {%- endif %}\n"
    "                    {%- if not loop.last %}\n"
    "                        {{- \", \" }}\n"
    "                    {%- endif %}\n"
    "                {%- endfor %}\n"
    "                {{- \"}}\" }}\n"
    "                {%- if not loop.last %}\n"
    "                    {{- \", \" }}\n"
    "                {%- else %}\n"
    "                    {{- \"]\" }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "            {{- \"[/AVAILABLE_TOOLS]\" }}\n"
    "            {%- endif %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}"
    "\n"
    "        {%- else %}\n"
    "            {{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}\n"
    "        {{- \"[TOOL_CALLS][\" }}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- set out = tool_call.function|tojson %}\n"
    "            {{- out[:-1] }}\n"
    "            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n"
    "                {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9"
    "!\") }}\n"
    "            {%- endif %}\n"
    "            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n"
    "            {%- if not loop.last %}\n"
    "                {{- \", \" }}\n"
    "            {%- else %}\n"
    "                {{- \"]\" + eos_token }}\n"
    "            {%- endif %}\n"
    "        {%- endfor %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- message[\"content\"] + eos_token}}\n"
    "    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n"
    "        {%- if message.content is defined and message.content.content is defined %}\n"
    "            {%- set content = message.content.content %}\n"
    "        {%- else %}\n"
    "            {%- set content = message.content %}\n"
    "        {%- endif %}\n"
    "        {{- '[TOOL_RESULTS]{\"content\": ' + content|string + \", \" }}\n"
    "        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n"
    "            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\")"
    " }}\n"
    "        {%- endif %}\n"
    "        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n"
    "    {%- else %}\n"
    "        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of"
    " an initial optional system message!\") }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char src_mistral_v7[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + mes"
    "sage['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + mess"
    "age['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message["
    "'content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and assistant roles are"
    " supported!') }}{% endif %}{% endfor %}";

static const char src_mistral_v7_tekken[] =
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "    {%- if message['role'] == 'system' %}\n"
    "        {{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}\n"
    "    {%- elif message['role'] == 'user' %}\n"
    "        {{- '[INST]' + message['content'] + '[/INST]' }}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- message['content'] + eos_token }}\n"
    "    {%- else %}\n"
    "        {{- raise_exception('Only system, user and assistant roles are supported!') }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char src_gemma[] =
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/..."
    "\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n";

static const char src_phi3[] =
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|sys"
    "tem|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% elif message['role'] == 'user' %}{{'<|user|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n"
    "' }}{% else %}{{ eos_token }}{% endif %}";

static const char src_zephyr[] =
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n"
    "' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n"
    "' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n"
    "'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n"
    "{% endif %}\n"
    "{% endfor %}";

static const char src_deepseek[] =
    "{% if not add_generation_prompt is defined %}\n"
    "{% set add_generation_prompt = false %}\n"
    "{% endif %}\n"
    "{%- set ns = namespace(found=false) -%}\n"
    "{%- for message in messages -%}\n"
    "    {%- if message['role'] == 'system' -%}\n"
    "        {%- set ns.found = true -%}\n"
    "    {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{{bos_token}}{%- if not ns.found -%}\n"
    "{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepsee"
    "k Company, and you only answer questions related to computer science. For politically sensitive "
    "questions, security and privacy issues, and other non-computer science questions, you will refus"
    "e to answer\\n'}}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message['role'] == 'system' %}\n"
    "{{ message['content'] }}\n"
    "    {%- else %}\n"
    "        {%- if message['role'] == 'user' %}\n"
    "{{'### Instruction:\\n' + message['content'] + '\\n'}}\n"
    "        {%- else %}\n"
    "{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{% if add_generation_prompt %}\n"
    "{{'### Response:'}}\n"
    "{% endif %}";

static const char src_vicuna[] =
    "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] "
    "+ '\\n\\n' -}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] +"
    " '\\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\\n' -}}{%- endif -%}{%- endif"
    " -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}";

/* ---- the family table ---- */

struct family {
    const char *name;
    const char *source;
    const char *end_of_turn;   /* NULL: the model's EOS */
    const char *default_eos;   /* for eos_text == NULL */
};

static const struct family families[CHAT_TEMPLATE_COUNT] = {
    [CHAT_LLAMA3] = { "llama3", src_llama3, "<|eot_id|>", "</s>" },
    [CHAT_CHATML] = { "chatml", src_chatml, "<|im_end|>", "</s>" },
    [CHAT_LLAMA2] = { "llama2", src_llama2, NULL, "</s>" },
    [CHAT_MISTRAL_V1] = { "mistral-v1", src_mistral_v1, NULL, "</s>" },
    [CHAT_MISTRAL_V3] = { "mistral-v3", src_mistral_v3, NULL, "</s>" },
    [CHAT_MISTRAL_V3_TEKKEN] = { "mistral-v3-tekken", src_mistral_v3_tekken, NULL, "</s>" },
    [CHAT_MISTRAL_V7] = { "mistral-v7", src_mistral_v7, NULL, "</s>" },
    [CHAT_MISTRAL_V7_TEKKEN] = { "mistral-v7-tekken", src_mistral_v7_tekken, NULL, "</s>" },
    [CHAT_GEMMA] = { "gemma", src_gemma, "<end_of_turn>", "<eos>" },
    [CHAT_PHI3] = { "phi3", src_phi3, "<|end|>", "<|endoftext|>" },
    [CHAT_ZEPHYR] = { "zephyr", src_zephyr, NULL, "</s>" },
    [CHAT_DEEPSEEK] = { "deepseek", src_deepseek, "<|EOT|>", "<|EOT|>" },
    [CHAT_VICUNA] = { "vicuna", src_vicuna, NULL, "</s>" },
};

static const char known_names[] =
    "llama3, chatml, llama2, mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7, "
    "mistral-v7-tekken, gemma, phi3, zephyr, deepseek, vicuna";

static bool valid_id(int id) { return id >= 0 && id < CHAT_TEMPLATE_COUNT; }

const char *chat_template_name(int id) { return valid_id(id) ? families[id].name : NULL; }
const char *chat_template_source(int id) { return valid_id(id) ? families[id].source : NULL; }
const char *chat_template_known_names(void) { return known_names; }

const char *chat_template_end_of_turn(int id) {
    return valid_id(id) ? families[id].end_of_turn : NULL;
}

static bool same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        if (x != *b) return false;
    }
    return *a == *b;
}

int chat_template_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < CHAT_TEMPLATE_COUNT; i++)
        if (same_name(name, families[i].name)) return i;
    return -1;
}

/* ---- detection ---- */

static bool has(const char *s, const char *needle) { return strstr(s, needle) != NULL; }

int chat_template_detect(const char *src) {
    if (!src) return -1;
    int id = chat_template_from_name(src);
    if (id >= 0) return id;

    /* Look-alikes of other formats come first: Phi-4 (<|im_sep|>) and SmolVLM
     * (<end_of_utterance>) use <|im_start|> differently; ChatGLM and GLM-Edge use <|user|>. */
    if (has(src, "<|im_sep|>") || has(src, "<end_of_utterance>") || has(src, "[gMASK]"))
        return -1;
    if (has(src, "<|im_start|>")) return CHAT_CHATML;
    if (has(src, "[INST]") || strncmp(src, "mistral", 7) == 0) {
        if (has(src, "[SYSTEM_PROMPT]"))
            return has(src, "[SYSTEM_PROMPT] ") ? CHAT_MISTRAL_V7 : CHAT_MISTRAL_V7_TEKKEN;
        if (has(src, "' [INST] ' + system_message") || has(src, "[AVAILABLE_TOOLS]")) {
            if (has(src, " [INST]")) return CHAT_MISTRAL_V1;
            if (has(src, "\"[INST]\"")) return CHAT_MISTRAL_V3_TEKKEN;
            return CHAT_MISTRAL_V3;
        }
        if (has(src, "<<SYS>>")) return CHAT_LLAMA2;
        return CHAT_MISTRAL_V1;
    }
    if (has(src, "<|start_header_id|>") && has(src, "<|end_header_id|>")) return CHAT_LLAMA3;
    if (has(src, "<start_of_turn>")) return CHAT_GEMMA;
    if (has(src, "<|assistant|>") && has(src, "<|end|>")) return CHAT_PHI3;
    if (has(src, "<|user|>") && has(src, "<|assistant|>") &&
        (has(src, "eos_token") || has(src, "</s>") || has(src, "<|endoftext|>")))
        return CHAT_ZEPHYR;
    if (has(src, "### Instruction:") && has(src, "<|EOT|>")) return CHAT_DEEPSEEK;
    if (has(src, "USER: ") && has(src, "ASSISTANT: ")) return CHAT_VICUNA;
    return -1;
}

int chat_template_resolve(const char *name, const char *jinja_src, int *id, lk_error *err) {
    *id = -1;
    if (name && *name) {
        *id = chat_template_from_name(name);
        if (*id < 0)
            return lk_errorf(err, LK_EINVAL, "unknown chat template '%s'; known templates: %s",
                             name, known_names);
        return LK_OK;
    }
    if (!jinja_src || !*jinja_src)
        return lk_errorf(err, LK_EUNSUPPORTED, "the model has no chat template "
                         "(tokenizer.chat_template); choose one by name: %s", known_names);
    *id = chat_template_detect(jinja_src);
    if (*id < 0)
        return lk_errorf(err, LK_EUNSUPPORTED, "the model's chat template (%zu bytes) is not of "
                         "a family llmkit knows; choose one by name: %s",
                         strlen(jinja_src), known_names);
    return LK_OK;
}

/* ---- rendering helpers ---- */

enum role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

static const char *role_name(int role) {
    return role == ROLE_SYSTEM ? "system" : role == ROLE_USER ? "user" : "assistant";
}

/* The rendering context: the messages with their roles parsed, and the token texts. */
typedef struct render {
    const lk_chat_msg *msgs;
    const int *roles;
    size_t n;
    bool gen;
    const char *bos, *eos;
    lk_buf *out;
    lk_error *err;
} render;

static const char *content_of(const render *r, size_t i) {
    return r->msgs[i].content ? r->msgs[i].content : "";
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Append s[0..len) without ASCII whitespace at either end (Jinja's trim, Python's strip). */
static void put_trimmed(lk_buf *b, const char *s, size_t len) {
    while (len && is_space(*s)) s++, len--;
    while (len && is_space(s[len - 1])) len--;
    lk_buf_append(b, s, len);
}

static void put_trim(lk_buf *b, const char *s) { put_trimmed(b, s, strlen(s)); }

/* The index of the next user message at or after i, or n. */
static size_t next_user(const render *r, size_t i) {
    while (i < r->n && r->roles[i] != ROLE_USER) i++;
    return i;
}

/* Families that fold system text into a user message need one after each system message. */
static int check_system_has_user(const render *r, const char *family) {
    for (size_t i = 0; i < r->n; i++)
        if (r->roles[i] == ROLE_SYSTEM && next_user(r, i) == r->n)
            return lk_errorf(r->err, LK_EINVAL, "chat message %zu (system): the %s template puts "
                             "system text into a user message, and no user message follows it",
                             i, family);
    return LK_OK;
}

/* Add one system message's text to the pending system text (joined by a blank line). An empty
 * system message still counts, as it does in the templates. */
static void add_system(lk_buf *sys, bool *have_sys, const char *text) {
    if (*have_sys) lk_buf_puts(sys, "\n\n");
    lk_buf_puts(sys, text);
    *have_sys = true;
}

/* ---- the families ---- */

static int render_llama3(render *r) {
    for (size_t i = 0; i < r->n; i++) {
        if (i == 0) lk_buf_puts(r->out, r->bos);
        lk_buf_printf(r->out, "<|start_header_id|>%s<|end_header_id|>\n\n", role_name(r->roles[i]));
        put_trim(r->out, content_of(r, i));
        lk_buf_puts(r->out, "<|eot_id|>");
    }
    if (r->gen) lk_buf_puts(r->out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return LK_OK;
}

static int render_chatml(render *r) {
    for (size_t i = 0; i < r->n; i++) {
        lk_buf_printf(r->out, "<|im_start|>%s\n", role_name(r->roles[i]));
        lk_buf_puts(r->out, content_of(r, i));
        lk_buf_puts(r->out, "<|im_end|>\n");
    }
    if (r->gen) lk_buf_puts(r->out, "<|im_start|>assistant\n");
    return LK_OK;
}

/* Llama 2: each user turn is BOS [INST] ... [/INST], the first one after a system message
 * wrapped in <<SYS>>; the template strips the whole user text, <<SYS>> block included. */
static int render_llama2(render *r) {
    int rc = check_system_has_user(r, "llama2");
    if (rc) return rc;
    lk_buf sys = {0}, turn = {0};
    bool have_sys = false;
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM) {
            add_system(&sys, &have_sys, c);
        } else if (r->roles[i] == ROLE_USER) {
            lk_buf_clear(&turn);
            if (have_sys) {
                lk_buf_puts(&turn, "<<SYS>>\n");
                lk_buf_append(&turn, sys.data, sys.len);
                lk_buf_puts(&turn, "\n<</SYS>>\n\n");
                lk_buf_clear(&sys);
                have_sys = false;
            }
            lk_buf_puts(&turn, c);
            lk_buf_puts(r->out, r->bos);
            lk_buf_puts(r->out, "[INST] ");
            put_trimmed(r->out, turn.data, turn.len);
            lk_buf_puts(r->out, " [/INST]");
        } else {
            lk_buf_putc(r->out, ' ');
            put_trim(r->out, c);
            lk_buf_putc(r->out, ' ');
            lk_buf_puts(r->out, r->eos);
        }
    }
    lk_buf_free(&sys);
    lk_buf_free(&turn);
    return LK_OK;
}

/* Mistral v1 and v3 (and v3 tekken): [INST] user [/INST] assistant</s>, the spacing differing
 * by version. v1 puts the system text before the next user message, v3 before the last one. */
static int render_mistral_inst(render *r, int id) {
    bool v1 = id == CHAT_MISTRAL_V1, tekken = id == CHAT_MISTRAL_V3_TEKKEN;
    const char *open = v1 ? " [INST] " : tekken ? "[INST]" : "[INST] ";
    const char *close = v1 ? " [/INST]" : "[/INST]";
    lk_buf sys = {0};
    bool have_sys = false;
    size_t last_user = r->n, first_system = r->n;
    if (v1) {
        int rc = check_system_has_user(r, "mistral-v1");
        if (rc) return rc;
    } else {
        for (size_t i = 0; i < r->n; i++) {
            if (r->roles[i] == ROLE_USER) last_user = i;
            if (r->roles[i] == ROLE_SYSTEM) {
                add_system(&sys, &have_sys, content_of(r, i));
                if (first_system == r->n) first_system = i;
            }
        }
        if (first_system < r->n && last_user == r->n) {
            lk_buf_free(&sys);
            return lk_errorf(r->err, LK_EINVAL, "chat message %zu (system): the %s template puts "
                             "system text into the last user message, and there is none",
                             first_system, families[id].name);
        }
    }
    lk_buf_puts(r->out, r->bos);
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM) {
            if (v1) add_system(&sys, &have_sys, c);
        } else if (r->roles[i] == ROLE_USER) {
            lk_buf_puts(r->out, open);
            if (have_sys && (v1 || i == last_user)) {
                lk_buf_append(r->out, sys.data, sys.len);
                lk_buf_puts(r->out, "\n\n");
                lk_buf_clear(&sys);
                have_sys = false;
            }
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, close);
        } else if (id == CHAT_MISTRAL_V3) {
            lk_buf_putc(r->out, ' ');
            put_trim(r->out, c);
            lk_buf_puts(r->out, r->eos);
        } else {
            lk_buf_puts(r->out, tekken ? "" : " ");
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, r->eos);
        }
    }
    lk_buf_free(&sys);
    return LK_OK;
}

/* Mistral v7: system messages get [SYSTEM_PROMPT] blocks where they stand. */
static int render_mistral_v7(render *r, int id) {
    const char *sp = id == CHAT_MISTRAL_V7 ? " " : "";
    lk_buf_puts(r->out, r->bos);
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM) {
            lk_buf_printf(r->out, "[SYSTEM_PROMPT]%s", sp);
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, "[/SYSTEM_PROMPT]");
        } else if (r->roles[i] == ROLE_USER) {
            lk_buf_printf(r->out, "[INST]%s", sp);
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, "[/INST]");
        } else {
            lk_buf_puts(r->out, sp);
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, r->eos);
        }
    }
    return LK_OK;
}

/* Gemma: user and model turns; the system text, untrimmed, opens the next user turn. */
static int render_gemma(render *r) {
    int rc = check_system_has_user(r, "gemma");
    if (rc) return rc;
    lk_buf sys = {0};
    bool have_sys = false;
    lk_buf_puts(r->out, r->bos);
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM) {
            add_system(&sys, &have_sys, c);
            continue;
        }
        bool user = r->roles[i] == ROLE_USER;
        lk_buf_printf(r->out, "<start_of_turn>%s\n", user ? "user" : "model");
        if (user && have_sys) {
            lk_buf_append(r->out, sys.data, sys.len);
            lk_buf_puts(r->out, "\n\n");
            lk_buf_clear(&sys);
            have_sys = false;
        }
        put_trim(r->out, c);
        lk_buf_puts(r->out, "<end_of_turn>\n");
    }
    if (r->gen) lk_buf_puts(r->out, "<start_of_turn>model\n");
    lk_buf_free(&sys);
    return LK_OK;
}

static int render_phi3(render *r) {
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM && !*c) continue;
        lk_buf_printf(r->out, "<|%s|>\n", role_name(r->roles[i]));
        lk_buf_puts(r->out, c);
        lk_buf_puts(r->out, "<|end|>\n");
    }
    lk_buf_puts(r->out, r->gen ? "<|assistant|>\n" : r->eos);
    return LK_OK;
}

static int render_zephyr(render *r) {
    for (size_t i = 0; i < r->n; i++) {
        lk_buf_printf(r->out, "<|%s|>\n", role_name(r->roles[i]));
        lk_buf_puts(r->out, content_of(r, i));
        lk_buf_puts(r->out, r->eos);
        lk_buf_putc(r->out, '\n');
    }
    if (r->gen && r->n) lk_buf_puts(r->out, "<|assistant|>\n");
    return LK_OK;
}

static const char deepseek_default_system[] =
    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by "
    "Deepseek Company, and you only answer questions related to computer science. For "
    "politically sensitive questions, security and privacy issues, and other non-computer "
    "science questions, you will refuse to answer\n";

static int render_deepseek(render *r) {
    bool has_system = false;
    for (size_t i = 0; i < r->n; i++) has_system |= r->roles[i] == ROLE_SYSTEM;
    lk_buf_puts(r->out, r->bos);
    if (!has_system) lk_buf_puts(r->out, deepseek_default_system);
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM) {
            lk_buf_puts(r->out, c);
        } else if (r->roles[i] == ROLE_USER) {
            lk_buf_puts(r->out, "### Instruction:\n");
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, "\n");
        } else {
            lk_buf_puts(r->out, "### Response:\n");
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, "\n<|EOT|>\n");
        }
    }
    if (r->gen) lk_buf_puts(r->out, "### Response:\n");
    return LK_OK;
}

static int render_vicuna(render *r) {
    for (size_t i = 0; i < r->n; i++) {
        const char *c = content_of(r, i);
        if (r->roles[i] == ROLE_SYSTEM) {
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, "\n\n");
        } else if (r->roles[i] == ROLE_USER) {
            lk_buf_puts(r->out, "USER: ");
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, "\n");
        } else {
            lk_buf_puts(r->out, "ASSISTANT: ");
            lk_buf_puts(r->out, c);
            lk_buf_puts(r->out, r->eos);
            lk_buf_puts(r->out, "\n");
        }
    }
    if (r->gen) lk_buf_puts(r->out, "ASSISTANT:");
    return LK_OK;
}

/* ---- chat_render ---- */

static int parse_role(const char *role) {
    if (!role) return -1;
    if (strcmp(role, "system") == 0) return ROLE_SYSTEM;
    if (strcmp(role, "user") == 0) return ROLE_USER;
    if (strcmp(role, "assistant") == 0) return ROLE_ASSISTANT;
    return -1;
}

int chat_render(int id, const lk_chat_msg *msgs, size_t n, bool add_generation_prompt,
                const char *bos_text, const char *eos_text, lk_buf *out, lk_error *err) {
    if (!valid_id(id))
        return lk_errorf(err, LK_EINVAL, "chat template id %d is not one of the %d known "
                         "templates (%s)", id, CHAT_TEMPLATE_COUNT, known_names);
    if (n && !msgs) return lk_errorf(err, LK_EINVAL, "chat: %zu messages but no list", n);
    int *roles = malloc((n ? n : 1) * sizeof *roles);
    if (!roles) return lk_errorf(err, LK_ENOMEM, "chat: out of memory for %zu messages", n);
    for (size_t i = 0; i < n; i++) {
        roles[i] = parse_role(msgs[i].role);
        if (roles[i] < 0) {
            int rc;
            if (!msgs[i].role)
                rc = lk_errorf(err, LK_EINVAL, "chat message %zu has no role", i);
            else
                rc = lk_errorf(err, LK_EINVAL, "chat message %zu has role '%.64s'; the %s "
                               "template takes system, user and assistant", i, msgs[i].role,
                               families[id].name);
            free(roles);
            return rc;
        }
    }
    lk_buf text = {0};
    render r = {
        .msgs = msgs, .roles = roles, .n = n, .gen = add_generation_prompt,
        .bos = bos_text ? bos_text : "", .eos = eos_text ? eos_text : families[id].default_eos,
        .out = &text, .err = err,
    };
    lk_buf_puts(&text, ""); /* never NULL data, even for an empty rendering */
    int rc;
    switch (id) {
    case CHAT_LLAMA3: rc = render_llama3(&r); break;
    case CHAT_CHATML: rc = render_chatml(&r); break;
    case CHAT_LLAMA2: rc = render_llama2(&r); break;
    case CHAT_MISTRAL_V1:
    case CHAT_MISTRAL_V3:
    case CHAT_MISTRAL_V3_TEKKEN: rc = render_mistral_inst(&r, id); break;
    case CHAT_MISTRAL_V7:
    case CHAT_MISTRAL_V7_TEKKEN: rc = render_mistral_v7(&r, id); break;
    case CHAT_GEMMA: rc = render_gemma(&r); break;
    case CHAT_PHI3: rc = render_phi3(&r); break;
    case CHAT_ZEPHYR: rc = render_zephyr(&r); break;
    case CHAT_DEEPSEEK: rc = render_deepseek(&r); break;
    default: rc = render_vicuna(&r); break;
    }
    if (rc == LK_OK) lk_buf_append(out, text.data, text.len);
    lk_buf_free(&text);
    free(roles);
    return rc;
}
