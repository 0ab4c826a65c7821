/* test_chat.c — chat templates: detecting the family of real Hugging Face templates, rendering
 * each family exactly as its Jinja template does, and the errors for what cannot be rendered.
 *
 * The expected renderings were produced by rendering each family's chat_template_source() with
 * Jinja2 the way transformers' apply_chat_template does (trim_blocks, lstrip_blocks), with the
 * family's usual BOS and EOS texts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/chat.h"


/* ---- real-world templates (Hugging Face tokenizer_config.json chat_template) ---- */

/* meta-llama/Llama-3.1-8B-Instruct */
static const char fx_llama31[] =
    "{{- bos_token }}\n"
    "{%- if custom_tools is defined %}\n"
    "    {%- set tools = custom_tools %}\n"
    "{%- endif %}\n"
    "{%- if not tools_in_user_message is defined %}\n"
    "    {%- set tools_in_user_message = true %}\n"
    "{%- endif %}\n"
    "{%- if not date_string is defined %}\n"
    "    {%- set date_string = \"26 Jul 2024\" %}\n"
    "{%- endif %}\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "\n"
    "{#- This block extracts the system message, so we can slot it into the right place. #}\n"
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- set messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system_message = \"\" %}\n"
    "{%- endif %}\n"
    "\n"
    "{#- System message + builtin tools #}\n"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{%- if builtin_tools is defined or tools is not none %}\n"
    "    {{- \"Environment: ipython\\n\" }}\n"
    "{%- endif %}\n"
    "{%- if builtin_tools is defined %}\n"
    "    {{- \"Tools: \" + builtin_tools | reject('equalto', 'code_interpreter') | join(\", \") + \"\\"
    "n\\n\"}}\n"
    "{%- endif %}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{%- if tools is not none and not tools_in_user_message %}\n"
    "    {{- \"You have access to the following functions. To call a function, please respond with JS"
    "ON for a function call.\" }}\n"
    "    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
    "name and its value}.' }}\n"
    "    {{- \"Do not use variables.\\n\\n\" }}\n"
    "    {%- for t in tools %}\n"
    "        {{- t | tojson(indent=4) }}\n"
    "        {{- \"\\n\\n\" }}\n"
    "    {%- endfor %}\n"
    "{%- endif %}\n"
    "{{- system_message }}\n"
    "{{- \"<|eot_id|>\" }}\n"
    "\n"
    "{#- Custom tools are passed in a user message with some extra guidance #}\n"
    "{%- if tools_in_user_message and not tools is none %}\n"
    "    {#- Extract the first user message so we can plug it in here #}\n"
    "    {%- if messages | length != 0 %}\n"
    "        {%- set first_user_message = messages[0]['content']|trim %}\n"
    "        {%- set messages = messages[1:] %}\n"
    "    {%- else %}\n"
    "        {{- raise_exception(\"Cannot put tools in the first user message when there's no first u"
    "ser message!\") }}\n"
    "{%- endif %}\n"
    "    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}\n"
    "    {{- \"Given the following functions, please respond with a JSON for a function call \" }}\n"
    "    {{- \"with its proper arguments that best answers the given prompt.\\n\\n\" }}\n"
    "    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
    "name and its value}.' }}\n"
    "    {{- \"Do not use variables.\\n\\n\" }}\n"
    "    {%- for t in tools %}\n"
    "        {{- t | tojson(indent=4) }}\n"
    "        {{- \"\\n\\n\" }}\n"
    "    {%- endfor %}\n"
    "    {{- first_user_message + \"<|eot_id|>\"}}\n"
    "{%- endif %}\n"
    "\n"
    "{%- for message in messages %}\n"
    "    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) "
    "%}\n"
    "        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['conten"
    "t'] | trim + '<|eot_id|>' }}\n"
    "    {%- elif 'tool_calls' in message %}\n"
    "        {%- if not message.tool_calls|length == 1 %}\n"
    "            {{- raise_exception(\"This model only supports single tool-calls at once!\") }}\n"
    "        {%- endif %}\n"
    "        {%- set tool_call = message.tool_calls[0].function %}\n"
    "        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}\n"
    "            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n"
    "            {{- \"<|python_tag|>\" + tool_call.name + \".call(\" }}\n"
    "            {%- for arg_name, arg_val in tool_call.arguments | items %}\n"
    "                {{- arg_name + '=\"' + arg_val + '\"' }}\n"
    "                {%- if not loop.last %}\n"
    "                    {{- \", \" }}\n"
    "                {%- endif %}\n"
    "                {%- endfor %}\n"
    "            {{- \")\" }}\n"
    "        {%- else  %}\n"
    "            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n"
    "            {{- '{\"name\": \"' + tool_call.name + '\", ' }}\n"
    "            {{- '\"parameters\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- \"}\" }}\n"
    "        {%- endif %}\n"
    "        {%- if builtin_tools is defined %}\n"
    "            {#- This means we're in ipython mode #}\n"
    "            {{- \"<|eom_id|>\" }}\n"
    "        {%- else %}\n"
    "            {{- \"<|eot_id|>\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message.role == \"tool\" or message.role == \"ipython\" %}\n"
    "        {{- \"<|start_header_id|>ipython<|end_header_id|>\\n\\n\" }}\n"
    "        {%- if message.content is mapping or message.content is iterable %}\n"
    "            {{- message.content | tojson }}\n"
    "        {%- else %}\n"
    "            {{- message.content }}\n"
    "        {%- endif %}\n"
    "        {{- \"<|eot_id|>\" }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n";

/* meta-llama/Meta-Llama-3-8B-Instruct */
static const char fx_llama3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_he"
    "ader_id|>' + message['role'] + '<|end_header_id|>\n"
    "\n"
    "'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_toke"
    "n + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_head"
    "er_id|>assistant<|end_header_id|>\n"
    "\n"
    "' }}{% endif %}";

/* Qwen/Qwen2.5-7B-Instruct */
static const char fx_qwen25[] =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\"
    "n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and a"
    "rguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>"
    ", \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assi"
    "stant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (mes"
    "sage.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

/* teknium/OpenHermes-2.5-Mistral-7B (plain chatml) */
static const char fx_openhermes[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n"
    "' + message['content'] + '<|im_end|>' + '\n"
    "'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n"
    "' }}{% endif %}";

/* meta-llama/Llama-2-13b-chat-hf */
static const char fx_llama2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_mess"
    "age = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message"
    " = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (lo"
    "op.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/"
    "assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content"
    " = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set c"
    "ontent = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST"
    "] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content."
    "strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

/* mistralai/Mixtral-8x7B-Instruct-v0.1 */
static const char fx_mixtral[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % "
    "2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/.."
    ".') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]"
    "' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ rai"
    "se_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

/* mistralai/Mistral-7B-Instruct-v0.2 (v1 template with a system prompt) */
static const char fx_mistral_v02[] =
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

/* mistralai/Mistral-7B-Instruct-v0.3 */
static const char fx_mistral_v03[] =
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

/* mistralai/Mistral-Nemo-Instruct-2407 */
static const char fx_nemo[] =
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

/* mistralai/Mistral-Large-Instruct-2411 */
static const char fx_large2411[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + mes"
    "sage['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + mess"
    "age['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message["
    "'content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and assistant roles are"
    " supported!') }}{% endif %}{% endfor %}";

/* mistralai/Mistral-Small-3.2-24B-Instruct-2506 */
static const char fx_small32[] =
    "{%- set today = strftime_now(\"%Y-%m-%d\") %}\n"
    "{%- set default_system_message = \"You are Mistral Small 3, a Large Language Model (LLM) created"
    " by Mistral AI, a French startup headquartered in Paris.\\nYour knowledge base was last updated "
    "on 2023-10-01. The current date is \" + today + \".\\n\\nWhen you're not sure about some informa"
    "tion or when the user's request requires up-to-date or specific data, you must use the available"
    " tools to fetch the information. Do not hesitate to use tools whenever they can provide a more a"
    "ccurate or complete response. If no relevant tools are available, then clearly state that you do"
    "n't have the information and avoid making up anything.\n"
    "\n"
    "If the user's question is not clear, ambiguous, or does not provide enough context for you to ac"
    "curately answer the question, you do not try to answer it right away and you rather ask the user"
    " to clarify their request (e.g. \\\"What are some good restaurants around me?\\\" => \\\"Where a"
    "re you?\\\" or \\\"When is the next flight to Tokyo\\\" => \\\"Where do you travel from?\\\").\n"
    "You are always very attentive to dates, and when asked about information at specific dates, you "
    "discard information that is at another date.\n"
    "You follow these instructions in all languages, and always respond to the user in the language t"
    "hey use or request.\n"
    "Next sections describe the capabilities that you have.\n"
    "\n"
    "# WEB BROWSING INSTRUCTIONS\n"
    "\n"
    "You cannot perform any web search or access internet to open URLs, links etc. If it seems like t"
    "he user is expecting you to do so, you clarify the situation and ask the user to copy paste the "
    "text directly in the chat.\n"
    "\n"
    "# MULTI-MODAL INSTRUCTIONS\n"
    "\n"
    "You have the ability to read images, but you cannot generate images. You also cannot transcribe "
    "audio files or videos.\n"
    "You cannot read nor transcribe audio files or videos.\n"
    "\n"
    "# TOOL CALLING INSTRUCTIONS\n"
    "\n"
    "You may have access to tools that you can use to fetch information or perform actions. You must "
    "use these tools in the following situations:\n"
    "\n"
    "1. When the request requires up-to-date information.\n"
    "2. When the request requires specific data that you do not have in your knowledge base.\n"
    "3. When the request involves actions that you cannot perform without tools.\n"
    "\n"
    "Always prioritize using tools to provide the most accurate and helpful response. If tools are no"
    "t available, inform the user that you cannot perform the requested action at the moment.\" %}\n"
    "\n"
    "{{- bos_token }}\n"
    "\n"
    "{%- set system_prompt = default_system_message %}\n"
    "{%- set loop_messages = messages %}\n"
    "\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "\n"
    "{%- if messages|length > 0 and messages[0]['role'] == 'system' %}\n"
    "    {%- if messages[0]['content'] is string %}\n"
    "        {%- set system_prompt = messages[0]['content'] %}\n"
    "    {%- else %}\n"
    "        {%- set system_prompt = messages[0]['content'][0]['text'] %}\n"
    "    {%- endif %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- endif %}\n"
    "\n"
    "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n"
    "\n"
    "{%- set ns = namespace(index=0) %}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if not (message.role == \"tool\" or (message.get('tool_calls'))) %}\n"
    "        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n"
    "            {{- raise_exception(\"After the optional system message, conversation roles must alt"
    "ernate user/assistant/user/assistant/...\") }}\n"
    "        {%- endif %}\n"
    "        {%- set ns.index = ns.index + 1 %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "\n"
    "{{- '[SYSTEM_PROMPT]' + system_prompt + '[/SYSTEM_PROMPT]' }}\n"
    "\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message['role'] == 'system' %}\n"
    "        {%- if message['content'] is string %}\n"
    "            {{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}\n"
    "        {%- else %}\n"
    "            {{- '[SYSTEM_PROMPT]' + message['content'][0]['text'] + '[/SYSTEM_PROMPT]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'user' %}\n"
    "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
    "            {{- '[AVAILABLE_TOOLS]' + tools|tojson + '[/AVAILABLE_TOOLS]' }}\n"
    "        {%- endif %}\n"
    "        {{- '[INST]' }}\n"
    "        {%- if message['content'] is string %}\n"
    "            {{- message['content'] }}\n"
    "        {%- else %}\n"
    "            {%- for block in message['content'] %}\n"
    "                {%- if block['type'] == 'text' %}\n"
    "                    {{- block['text'] }}\n"
    "                {%- elif block['type'] in ['image', 'image_url'] %}\n"
    "                    {{- '[IMG]' }}\n"
    "                {%- else %}\n"
    "                    {{- raise_exception('Only text and image blocks are supported in message con"
    "tent!') }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "        {%- endif %}\n"
    "        {{- '[/INST]' }}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {%- if message.get('tool_calls') %}\n"
    "            {%- for tool_call in message.tool_calls %}\n"
    "                {{- '[TOOL_CALLS]' + tool_call.function.name }}\n"
    "                {%- if not tool_call.id is defined or tool_call.id is not string or tool_call.id"
    "|length != 9 %}\n"
    "                    {{- raise_exception(\"Tool call IDs should be alphanumeric strings with leng"
    "th 9!\") }}\n"
    "                {%- endif %}\n"
    "                {{- '[CALL_ID]' + tool_call.id }}\n"
    "                {{- '[ARGS]' + tool_call['function']['arguments']|tojson }}\n"
    "            {%- endfor %}\n"
    "            {{- eos_token }}\n"
    "        {%- elif message['content'] is string %}\n"
    "            {{- message['content'] + eos_token }}\n"
    "        {%- else %}\n"
    "            {%- for block in message['content'] %}\n"
    "                {%- if block['type'] == 'text' %}\n"
    "                    {{- block['text'] }}\n"
    "                {%- elif block['type'] in ['image', 'image_url'] %}\n"
    "                    {{- '[IMG]' }}\n"
    "                {%- else %}\n"
    "                    {{- raise_exception('Only text and image blocks are supported in assistant c"
    "ontent!') }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "            {{- eos_token }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'tool_results' or message['role'] == 'tool' %}\n"
    "        {%- if message.content is defined and message.content.content is defined %}\n"
    "            {%- set content = message.content.content %}\n"
    "        {%- else %}\n"
    "            {%- set content = message.content %}\n"
    "        {%- endif %}\n"
    "        {%- if not message.tool_call_id is defined or message.tool_call_id is not string or mess"
    "age['tool_call_id']|length != 9 %}\n"
    "            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\")"
    " }}\n"
    "        {%- endif %}\n"
    "        {{- '[TOOL_RESULTS]' + message.tool_call_id + '[TOOL_CONTENT]' + content|string + '[/TOO"
    "L_RESULTS]' }}\n"
    "    {%- else %}\n"
    "        {{- raise_exception('Only system, user, assistant, and tool roles are supported!') }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

/* google/gemma-2-2b-it */
static const char fx_gemma2[] =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not suppo"
    "rted') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.inde"
    "x0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assista"
    "nt/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %"
    "}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n"
    "' + message['content'] | trim + '<end_of_turn>\n"
    "' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n"
    "'}}{% endif %}";

/* google/gemma-3-1b-it */
static const char fx_gemma3[] =
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

/* microsoft/Phi-3.5-mini-instruct */
static const char fx_phi35[] =
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|sys"
    "tem|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% elif message['role'] == 'user' %}{{'<|user|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n"
    "' }}{% else %}{{ eos_token }}{% endif %}";

/* microsoft/Phi-3-mini-4k-instruct */
static const char fx_phi3mini[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '"
    "\n"
    "' + message['content'] + '<|end|>' + '\n"
    "' + '<|assistant|>' + '\n"
    "'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n"
    "'}}{% endif %}{% endfor %}";

/* HuggingFaceH4/zephyr-7b-beta */
static const char fx_zephyr[] =
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

/* TinyLlama/TinyLlama-1.1B-Chat-v1.0 */
static const char fx_tinyllama[] =
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
    "{% endfor %}\n";

/* deepseek-ai/deepseek-coder-33b-instruct */
static const char fx_deepseek_coder[] =
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

/* eachadea/vicuna-13b-1.1 (no template shipped; the usual one) */
static const char fx_vicuna[] =
    "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] "
    "+ '\\n\\n' -}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] +"
    " '\\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\\n' -}}{%- endif -%}{%- endif"
    " -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}";

/* microsoft/phi-4 */
static const char fx_phi4[] =
    "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep"
    "|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>us"
    "er<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|>'}}{% elif (messa"
    "ge['role'] == 'assistant') %}{{message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}";

/* deepseek-ai/DeepSeek-R1-Distill-Llama-8B */
static const char fx_r1_distill[] =
    "{% if not add_generation_prompt is defined -%}\n"
    "  {%- set add_generation_prompt = false -%}\n"
    "{%- endif -%}\n"
    "{%- set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') -%"
    "}\n"
    "{%- for message in messages -%}\n"
    "  {%- if message['role'] == 'system' -%}\n"
    "    {%- set ns.system_prompt = message['content'] -%}\n"
    "  {%- endif -%}\n"
    "{%- endfor -%}{{bos_token}}{{ns.system_prompt}}\n"
    "{%- for message in messages -%}\n"
    "  {%- if message['role'] == 'user' -%}\n"
    "    {%- set ns.is_tool = false -%}{{'<\357\275\234User\357\275\234>' + message['content']}}\n"
    "  {%- endif -%}\n"
    "  {%- if message['role'] == 'assistant' and message['content'] is none -%}\n"
    "    {%- set ns.is_tool = false -%}\n"
    "    {%- for tool in message['tool_calls']-%}\n"
    "      {%- if not ns.is_first -%}{{'<\357\275\234Assistant\357\275\234><\357\275\234tool\342\226\201"
    "calls\342\226\201begin\357\275\234><\357\275\234tool\342\226\201call\342\226\201begin\357\275\234"
    ">' + tool['type'] + '<\357\275\234tool\342\226\201sep\357\275\234>' + tool['function']['name'] +"
    " '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<\357\275\234tool\342"
    "\226\201call\342\226\201end\357\275\234>'}}\n"
    "        {%- set ns.is_first = true -%}\n"
    "        {%- else -%}{{'\\n' + '<\357\275\234tool\342\226\201call\342\226\201begin\357\275\234>' "
    "+ tool['type'] + '<\357\275\234tool\342\226\201sep\357\275\234>' + tool['function']['name'] + '\\"
    "n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<\357\275\234tool\342\226"
    "\201call\342\226\201end\357\275\234>'}}{{'<\357\275\234tool\342\226\201calls\342\226\201end\357\275"
    "\234><\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>'}}\n"
    "      {%- endif -%}\n"
    "    {%- endfor -%}\n"
    "  {%- endif -%}\n"
    "  {%- if message['role'] == 'assistant' and message['content'] is not none -%}\n"
    "    {%- if ns.is_tool -%}{{'<\357\275\234tool\342\226\201outputs\342\226\201end\357\275\234>' + "
    "message['content'] + '<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>'}}\n"
    "      {%- set ns.is_tool = false -%}\n"
    "      {%- else -%}\n"
    "      {%- set content = message['content'] -%}\n"
    "      {%- if '</think>' in content -%}\n"
    "        {%- set content = content.split('</think>')[-1] -%}\n"
    "      {%- endif -%}{{'<\357\275\234Assistant\357\275\234>' + content + '<\357\275\234end\342\226"
    "\201of\342\226\201sentence\357\275\234>'}}\n"
    "    {%- endif -%}\n"
    "  {%- endif -%}\n"
    "  {%- if message['role'] == 'tool' -%}\n"
    "    {%- set ns.is_tool = true -%}\n"
    "    {%- if ns.is_output_first -%}{{'<\357\275\234tool\342\226\201outputs\342\226\201begin\357\275"
    "\234><\357\275\234tool\342\226\201output\342\226\201begin\357\275\234>' + message['content'] + '"
    "<\357\275\234tool\342\226\201output\342\226\201end\357\275\234>'}}\n"
    "      {%- set ns.is_output_first = false -%}\n"
    "      {%- else -%}{{'\\n<\357\275\234tool\342\226\201output\342\226\201begin\357\275\234>' + mes"
    "sage['content'] + '<\357\275\234tool\342\226\201output\342\226\201end\357\275\234>'}}\n"
    "    {%- endif -%}\n"
    "  {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if ns.is_tool -%}{{'<\357\275\234tool\342\226\201outputs\342\226\201end\357\275\234>'}}\n"
    "{%- endif -%}\n"
    "{%- if add_generation_prompt and not ns.is_tool -%}{{'<\357\275\234Assistant\357\275\234><think>"
    "\\n'}}\n"
    "{%- endif %}";

/* CohereForAI/c4ai-command-r-plus (excerpt) */
static const char fx_command_r[] =
    "{{ bos_token }}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + sy"
    "stem_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% if mess"
    "age['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF"
    "_TURN_TOKEN|>' }}{% endif %}{% endfor %}";

/* THUDM/glm-4-9b-chat (excerpt) */
static const char fx_chatglm4[] =
    "[gMASK]<sop>{% for item in messages %}{% if item['content'] %}<|{{ item['role'] }}|>{{ item['met"
    "adata'] }}\n"
    "{{ item['content'] }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>\n"
    "{% endif %}";

static const struct fixture { const char *name; const char *src; int want; } fixtures[] = {
    { "meta-llama/Llama-3.1-8B-Instruct", fx_llama31, CHAT_LLAMA3 },
    { "meta-llama/Meta-Llama-3-8B-Instruct", fx_llama3, CHAT_LLAMA3 },
    { "Qwen/Qwen2.5-7B-Instruct", fx_qwen25, CHAT_CHATML },
    { "teknium/OpenHermes-2.5-Mistral-7B", fx_openhermes, CHAT_CHATML },
    { "meta-llama/Llama-2-13b-chat-hf", fx_llama2, CHAT_LLAMA2 },
    { "mistralai/Mixtral-8x7B-Instruct-v0.1", fx_mixtral, CHAT_MISTRAL_V1 },
    { "mistralai/Mistral-7B-Instruct-v0.2", fx_mistral_v02, CHAT_MISTRAL_V1 },
    { "mistralai/Mistral-7B-Instruct-v0.3", fx_mistral_v03, CHAT_MISTRAL_V3 },
    { "mistralai/Mistral-Nemo-Instruct-2407", fx_nemo, CHAT_MISTRAL_V3_TEKKEN },
    { "mistralai/Mistral-Large-Instruct-2411", fx_large2411, CHAT_MISTRAL_V7 },
    { "mistralai/Mistral-Small-3.2-24B-Instruct-2506", fx_small32, CHAT_MISTRAL_V7_TEKKEN },
    { "google/gemma-2-2b-it", fx_gemma2, CHAT_GEMMA },
    { "google/gemma-3-1b-it", fx_gemma3, CHAT_GEMMA },
    { "microsoft/Phi-3.5-mini-instruct", fx_phi35, CHAT_PHI3 },
    { "microsoft/Phi-3-mini-4k-instruct", fx_phi3mini, CHAT_PHI3 },
    { "HuggingFaceH4/zephyr-7b-beta", fx_zephyr, CHAT_ZEPHYR },
    { "TinyLlama/TinyLlama-1.1B-Chat-v1.0", fx_tinyllama, CHAT_ZEPHYR },
    { "deepseek-ai/deepseek-coder-33b-instruct", fx_deepseek_coder, CHAT_DEEPSEEK },
    { "eachadea/vicuna-13b-1.1", fx_vicuna, CHAT_VICUNA },
    { "microsoft/phi-4", fx_phi4, -1 },
    { "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", fx_r1_distill, -1 },
    { "CohereForAI/c4ai-command-r-plus", fx_command_r, -1 },
    { "THUDM/glm-4-9b-chat", fx_chatglm4, -1 },
};

/* ---- detection ---- */

/* Each real-world template is recognised as its family; look-alikes of other formats are not. */
static void test_detect_real_templates(void **state) {
    (void)state;
    for (size_t i = 0; i < LK_ARRAY_LEN(fixtures); i++) {
        int got = chat_template_detect(fixtures[i].src);
        if (got != fixtures[i].want)
            fail_msg("%s: detected %s, want %s", fixtures[i].name,
                     got < 0 ? "unknown" : chat_template_name(got),
                     fixtures[i].want < 0 ? "unknown" : chat_template_name(fixtures[i].want));
    }
}

/* NULL, empty and unrelated text are unknown; a bare family name is accepted as a template. */
static void test_detect_unknown_and_names(void **state) {
    (void)state;
    assert_int_equal(chat_template_detect(NULL), -1);
    assert_int_equal(chat_template_detect(""), -1);
    assert_int_equal(chat_template_detect("{{ messages[0]['content'] }}"), -1);
    assert_int_equal(chat_template_detect("chatml"), CHAT_CHATML);
    assert_int_equal(chat_template_detect("mistral-v7-tekken"), CHAT_MISTRAL_V7_TEKKEN);
}

/* Every family's representative source is detected as that family. */
static void test_sources_detect_as_their_family(void **state) {
    (void)state;
    for (int id = 0; id < CHAT_TEMPLATE_COUNT; id++) {
        const char *src = chat_template_source(id);
        assert_non_null(src);
        assert_true(strlen(src) > 100);
        if (chat_template_detect(src) != id)
            fail_msg("source of %s detected as %d", chat_template_name(id), chat_template_detect(src));
    }
    assert_null(chat_template_source(-1));
    assert_null(chat_template_source(CHAT_TEMPLATE_COUNT));
}

/* Names map to ids and back, ignoring ASCII case, and the known-names list holds them all. */
static void test_names(void **state) {
    (void)state;
    const char *all = chat_template_known_names();
    for (int id = 0; id < CHAT_TEMPLATE_COUNT; id++) {
        const char *name = chat_template_name(id);
        assert_non_null(name);
        assert_int_equal(chat_template_from_name(name), id);
        assert_non_null(strstr(all, name));
    }
    assert_int_equal(chat_template_from_name("ChatML"), CHAT_CHATML);
    assert_int_equal(chat_template_from_name("Llama3"), CHAT_LLAMA3);
    assert_int_equal(chat_template_from_name("llama"), -1);
    assert_int_equal(chat_template_from_name(""), -1);
    assert_int_equal(chat_template_from_name(NULL), -1);
    assert_null(chat_template_name(-1));
    assert_null(chat_template_name(CHAT_TEMPLATE_COUNT));
    assert_string_equal(all, "llama3, chatml, llama2, mistral-v1, mistral-v3, mistral-v3-tekken, "
                        "mistral-v7, mistral-v7-tekken, gemma, phi3, zephyr, deepseek, vicuna");
}

/* End-of-turn texts are the families' turn closers; EOS families have none. */
static void test_end_of_turn(void **state) {
    (void)state;
    assert_string_equal(chat_template_end_of_turn(CHAT_LLAMA3), "<|eot_id|>");
    assert_string_equal(chat_template_end_of_turn(CHAT_CHATML), "<|im_end|>");
    assert_string_equal(chat_template_end_of_turn(CHAT_GEMMA), "<end_of_turn>");
    assert_string_equal(chat_template_end_of_turn(CHAT_PHI3), "<|end|>");
    assert_null(chat_template_end_of_turn(CHAT_MISTRAL_V3));
    assert_null(chat_template_end_of_turn(99));
}

/* ---- resolve ---- */

/* A name given by the user wins over the model's template. */
static void test_resolve_name_wins(void **state) {
    (void)state;
    int id;
    lk_error err = {0};
    assert_int_equal(chat_template_resolve("gemma", fx_qwen25, &id, &err), LK_OK);
    assert_int_equal(id, CHAT_GEMMA);
    assert_int_equal(chat_template_resolve(NULL, fx_qwen25, &id, &err), LK_OK);
    assert_int_equal(id, CHAT_CHATML);
    assert_int_equal(chat_template_resolve("", fx_llama31, &id, &err), LK_OK);
    assert_int_equal(id, CHAT_LLAMA3);
}

/* An unknown name is a usage error whose message names it and lists the known names. */
static void test_resolve_unknown_name_lists_names(void **state) {
    (void)state;
    int id = 7;
    lk_error err = {0};
    assert_int_equal(chat_template_resolve("llama-5", fx_qwen25, &id, &err), LK_EINVAL);
    assert_int_equal(id, -1);
    assert_non_null(strstr(err.msg, "unknown chat template 'llama-5'"));
    assert_non_null(strstr(err.msg, chat_template_known_names()));
}

/* A model with no template, or one of no known family, asks for a name and lists them. */
static void test_resolve_without_usable_template(void **state) {
    (void)state;
    int id;
    lk_error err = {0};
    assert_int_equal(chat_template_resolve(NULL, NULL, &id, &err), LK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "no chat template"));
    assert_non_null(strstr(err.msg, "chatml, llama2"));
    assert_int_equal(chat_template_resolve(NULL, fx_phi4, &id, &err), LK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "not of a family llmkit knows"));
    assert_non_null(strstr(err.msg, chat_template_known_names()));
    assert_int_equal(id, -1);
}

/* ---- rendering ---- */

/* The conversation of the rendering tests; note the padded assistant and user messages. */
static const lk_chat_msg conv[] = {
    { "system", "You are a helpful assistant" },
    { "user", "Hello" },
    { "assistant", "  Hi there  " },
    { "user", "Who are you?\n" },
};

static void expect_render(int id, bool gen, const char *bos, const char *eos, const char *want) {
    lk_buf out = {0};
    lk_error err = {0};
    int rc = chat_render(id, conv, LK_ARRAY_LEN(conv), gen, bos, eos, &out, &err);
    if (rc) fail_msg("%s: %s", chat_template_name(id), err.msg);
    if (strcmp(out.data, want) != 0) {
        print_message("%s (%s)\nwant: [%s]\ngot:  [%s]\n", chat_template_name(id),
                      gen ? "generation prompt" : "no generation prompt", want, out.data);
        fail();
    }
    lk_buf_free(&out);
}

/* Each family renders system, user, assistant, user exactly as its Jinja template does, with
 * and without the generation prompt. */

static void test_render_llama3(void **state) {
    (void)state;
    expect_render(CHAT_LLAMA3, true, "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        "\n"
        "You are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Hello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        "\n"
        "Hi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Who are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        "\n");
    expect_render(CHAT_LLAMA3, false, "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        "\n"
        "You are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Hello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        "\n"
        "Hi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Who are you?<|eot_id|>");
}

static void test_render_chatml(void **state) {
    (void)state;
    expect_render(CHAT_CHATML, true, "", "",
        "<|im_start|>system\n"
        "You are a helpful assistant<|im_end|>\n"
        "<|im_start|>user\n"
        "Hello<|im_end|>\n"
        "<|im_start|>assistant\n"
        "  Hi there  <|im_end|>\n"
        "<|im_start|>user\n"
        "Who are you?\n"
        "<|im_end|>\n"
        "<|im_start|>assistant\n");
    expect_render(CHAT_CHATML, false, "", "",
        "<|im_start|>system\n"
        "You are a helpful assistant<|im_end|>\n"
        "<|im_start|>user\n"
        "Hello<|im_end|>\n"
        "<|im_start|>assistant\n"
        "  Hi there  <|im_end|>\n"
        "<|im_start|>user\n"
        "Who are you?\n"
        "<|im_end|>\n");
}

static void test_render_llama2(void **state) {
    (void)state;
    expect_render(CHAT_LLAMA2, true, "<s>", "</s>",
        "<s>[INST] <<SYS>>\n"
        "You are a helpful assistant\n"
        "<</SYS>>\n"
        "\n"
        "Hello [/INST] Hi there </s><s>[INST] Who are you? [/INST]");
    expect_render(CHAT_LLAMA2, false, "<s>", "</s>",
        "<s>[INST] <<SYS>>\n"
        "You are a helpful assistant\n"
        "<</SYS>>\n"
        "\n"
        "Hello [/INST] Hi there </s><s>[INST] Who are you? [/INST]");
}

static void test_render_mistral_v1(void **state) {
    (void)state;
    expect_render(CHAT_MISTRAL_V1, true, "<s>", "</s>",
        "<s> [INST] You are a helpful assistant\n"
        "\n"
        "Hello [/INST]   Hi there  </s> [INST] Who are you?\n"
        " [/INST]");
    expect_render(CHAT_MISTRAL_V1, false, "<s>", "</s>",
        "<s> [INST] You are a helpful assistant\n"
        "\n"
        "Hello [/INST]   Hi there  </s> [INST] Who are you?\n"
        " [/INST]");
}

static void test_render_mistral_v3(void **state) {
    (void)state;
    expect_render(CHAT_MISTRAL_V3, true, "<s>", "</s>",
        "<s>[INST] Hello[/INST] Hi there</s>[INST] You are a helpful assistant\n"
        "\n"
        "Who are you?\n"
        "[/INST]");
    expect_render(CHAT_MISTRAL_V3, false, "<s>", "</s>",
        "<s>[INST] Hello[/INST] Hi there</s>[INST] You are a helpful assistant\n"
        "\n"
        "Who are you?\n"
        "[/INST]");
}

static void test_render_mistral_v3_tekken(void **state) {
    (void)state;
    expect_render(CHAT_MISTRAL_V3_TEKKEN, true, "<s>", "</s>",
        "<s>[INST]Hello[/INST]  Hi there  </s>[INST]You are a helpful assistant\n"
        "\n"
        "Who are you?\n"
        "[/INST]");
    expect_render(CHAT_MISTRAL_V3_TEKKEN, false, "<s>", "</s>",
        "<s>[INST]Hello[/INST]  Hi there  </s>[INST]You are a helpful assistant\n"
        "\n"
        "Who are you?\n"
        "[/INST]");
}

static void test_render_mistral_v7(void **state) {
    (void)state;
    expect_render(CHAT_MISTRAL_V7, true, "<s>", "</s>",
        "<s>[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST]   Hi there  </"
        "s>[INST] Who are you?\n"
        "[/INST]");
    expect_render(CHAT_MISTRAL_V7, false, "<s>", "</s>",
        "<s>[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST]   Hi there  </"
        "s>[INST] Who are you?\n"
        "[/INST]");
}

static void test_render_mistral_v7_tekken(void **state) {
    (void)state;
    expect_render(CHAT_MISTRAL_V7_TEKKEN, true, "<s>", "</s>",
        "<s>[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]  Hi there  </s>["
        "INST]Who are you?\n"
        "[/INST]");
    expect_render(CHAT_MISTRAL_V7_TEKKEN, false, "<s>", "</s>",
        "<s>[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]  Hi there  </s>["
        "INST]Who are you?\n"
        "[/INST]");
}

static void test_render_gemma(void **state) {
    (void)state;
    expect_render(CHAT_GEMMA, true, "<bos>", "<eos>",
        "<bos><start_of_turn>user\n"
        "You are a helpful assistant\n"
        "\n"
        "Hello<end_of_turn>\n"
        "<start_of_turn>model\n"
        "Hi there<end_of_turn>\n"
        "<start_of_turn>user\n"
        "Who are you?<end_of_turn>\n"
        "<start_of_turn>model\n");
    expect_render(CHAT_GEMMA, false, "<bos>", "<eos>",
        "<bos><start_of_turn>user\n"
        "You are a helpful assistant\n"
        "\n"
        "Hello<end_of_turn>\n"
        "<start_of_turn>model\n"
        "Hi there<end_of_turn>\n"
        "<start_of_turn>user\n"
        "Who are you?<end_of_turn>\n");
}

static void test_render_phi3(void **state) {
    (void)state;
    expect_render(CHAT_PHI3, true, "<s>", "<|endoftext|>",
        "<|system|>\n"
        "You are a helpful assistant<|end|>\n"
        "<|user|>\n"
        "Hello<|end|>\n"
        "<|assistant|>\n"
        "  Hi there  <|end|>\n"
        "<|user|>\n"
        "Who are you?\n"
        "<|end|>\n"
        "<|assistant|>\n");
    expect_render(CHAT_PHI3, false, "<s>", "<|endoftext|>",
        "<|system|>\n"
        "You are a helpful assistant<|end|>\n"
        "<|user|>\n"
        "Hello<|end|>\n"
        "<|assistant|>\n"
        "  Hi there  <|end|>\n"
        "<|user|>\n"
        "Who are you?\n"
        "<|end|>\n"
        "<|endoftext|>");
}

static void test_render_zephyr(void **state) {
    (void)state;
    expect_render(CHAT_ZEPHYR, true, "<s>", "</s>",
        "<|system|>\n"
        "You are a helpful assistant</s>\n"
        "<|user|>\n"
        "Hello</s>\n"
        "<|assistant|>\n"
        "  Hi there  </s>\n"
        "<|user|>\n"
        "Who are you?\n"
        "</s>\n"
        "<|assistant|>\n");
    expect_render(CHAT_ZEPHYR, false, "<s>", "</s>",
        "<|system|>\n"
        "You are a helpful assistant</s>\n"
        "<|user|>\n"
        "Hello</s>\n"
        "<|assistant|>\n"
        "  Hi there  </s>\n"
        "<|user|>\n"
        "Who are you?\n"
        "</s>\n");
}

static void test_render_deepseek(void **state) {
    (void)state;
    expect_render(CHAT_DEEPSEEK, true, "<\357\275\234begin\342\226\201of\342\226\201sentence\357\275\234>", "<|EOT|>",
        "<\357\275\234begin\342\226\201of\342\226\201sentence\357\275\234>You are a helpful assistant### "
        "Instruction:\n"
        "Hello\n"
        "### Response:\n"
        "  Hi there  \n"
        "<|EOT|>\n"
        "### Instruction:\n"
        "Who are you?\n"
        "\n"
        "### Response:\n");
    expect_render(CHAT_DEEPSEEK, false, "<\357\275\234begin\342\226\201of\342\226\201sentence\357\275\234>", "<|EOT|>",
        "<\357\275\234begin\342\226\201of\342\226\201sentence\357\275\234>You are a helpful assistant### "
        "Instruction:\n"
        "Hello\n"
        "### Response:\n"
        "  Hi there  \n"
        "<|EOT|>\n"
        "### Instruction:\n"
        "Who are you?\n"
        "\n");
}

static void test_render_vicuna(void **state) {
    (void)state;
    expect_render(CHAT_VICUNA, true, "<s>", "</s>",
        "You are a helpful assistant\n"
        "\n"
        "USER: Hello\n"
        "ASSISTANT:   Hi there  </s>\n"
        "USER: Who are you?\n"
        "\n"
        "ASSISTANT:");
    expect_render(CHAT_VICUNA, false, "<s>", "</s>",
        "You are a helpful assistant\n"
        "\n"
        "USER: Hello\n"
        "ASSISTANT:   Hi there  </s>\n"
        "USER: Who are you?\n"
        "\n");
}


/* Rendering appends to the buffer; NULL eos means the family's usual one, NULL bos none. */
static void test_render_appends_and_defaults(void **state) {
    (void)state;
    lk_buf out = {0};
    lk_buf_puts(&out, "PREFIX|");
    const lk_chat_msg msgs[] = { { "user", "Hi" }, { "assistant", "Yo" } };
    assert_int_equal(chat_render(CHAT_LLAMA2, msgs, 2, true, NULL, NULL, &out, NULL), LK_OK);
    assert_string_equal(out.data, "PREFIX|[INST] Hi [/INST] Yo </s>");
    lk_buf_clear(&out);
    assert_int_equal(chat_render(CHAT_PHI3, msgs, 1, false, NULL, NULL, &out, NULL), LK_OK);
    assert_string_equal(out.data, "<|user|>\nHi<|end|>\n<|endoftext|>");
    lk_buf_clear(&out);
    /* no messages: just what the template writes around them */
    assert_int_equal(chat_render(CHAT_CHATML, NULL, 0, true, NULL, NULL, &out, NULL), LK_OK);
    assert_string_equal(out.data, "<|im_start|>assistant\n");
    lk_buf_free(&out);
}

/* Without a system message, deepseek adds its default one, as its template does. */
static void test_render_deepseek_default_system(void **state) {
    (void)state;
    lk_buf out = {0};
    const lk_chat_msg msgs[] = { { "user", "Sort a list" } };
    assert_int_equal(chat_render(CHAT_DEEPSEEK, msgs, 1, true, "", NULL, &out, NULL), LK_OK);
    assert_non_null(strstr(out.data, "You are an AI programming assistant, utilizing the Deepseek "
                                     "Coder model"));
    assert_non_null(strstr(out.data, "refuse to answer\n### Instruction:\nSort a list\n"
                                     "### Response:\n"));
    lk_buf_free(&out);
}

/* Families without a system slot fold system text into a user turn: gemma and llama2 into the
 * next one (several joined by a blank line, also mid-conversation), mistral-v3 into the last. */
static void test_render_system_folding(void **state) {
    (void)state;
    lk_buf out = {0};
    const lk_chat_msg a[] = {
        { "system", "Be brief." }, { "system", "Be kind." }, { "user", " Hi " },
        { "assistant", "Hello!" }, { "system", "Now in French." }, { "user", "Bye" },
    };
    assert_int_equal(chat_render(CHAT_GEMMA, a, 6, true, "<bos>", NULL, &out, NULL), LK_OK);
    assert_string_equal(out.data,
        "<bos><start_of_turn>user\nBe brief.\n\nBe kind.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nNow in French.\n\nBye<end_of_turn>\n<start_of_turn>model\n");
    lk_buf_clear(&out);
    assert_int_equal(chat_render(CHAT_LLAMA2, a, 6, true, "<s>", "</s>", &out, NULL), LK_OK);
    assert_string_equal(out.data,
        "<s>[INST] <<SYS>>\nBe brief.\n\nBe kind.\n<</SYS>>\n\n Hi [/INST] Hello! </s>"
        "<s>[INST] <<SYS>>\nNow in French.\n<</SYS>>\n\nBye [/INST]");
    lk_buf_clear(&out);
    assert_int_equal(chat_render(CHAT_MISTRAL_V3, a, 6, true, "<s>", "</s>", &out, NULL), LK_OK);
    assert_string_equal(out.data,
        "<s>[INST]  Hi [/INST] Hello!</s>"
        "[INST] Be brief.\n\nBe kind.\n\nNow in French.\n\nBye[/INST]");
    lk_buf_clear(&out);
    /* phi3 drops an empty system message, as its template does */
    const lk_chat_msg b[] = { { "system", "" }, { "user", "Hi" } };
    assert_int_equal(chat_render(CHAT_PHI3, b, 2, true, NULL, NULL, &out, NULL), LK_OK);
    assert_string_equal(out.data, "<|user|>\nHi<|end|>\n<|assistant|>\n");
    lk_buf_free(&out);
}

/* A role other than system, user and assistant is refused, naming the message and the role;
 * nothing is appended. */
static void test_render_unknown_role(void **state) {
    (void)state;
    lk_buf out = {0};
    lk_buf_puts(&out, "kept");
    lk_error err = {0};
    const lk_chat_msg msgs[] = { { "user", "Hi" }, { "tool", "42" } };
    assert_int_equal(chat_render(CHAT_CHATML, msgs, 2, true, NULL, NULL, &out, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "chat message 1 has role 'tool'"));
    assert_non_null(strstr(err.msg, "system, user and assistant"));
    assert_string_equal(out.data, "kept");
    const lk_chat_msg none[] = { { NULL, "Hi" } };
    assert_int_equal(chat_render(CHAT_CHATML, none, 1, true, NULL, NULL, &out, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "chat message 0 has no role"));
    assert_int_equal(chat_render(-1, msgs, 1, true, NULL, NULL, &out, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "template id -1"));
    assert_int_equal(chat_render(CHAT_CHATML, NULL, 3, true, NULL, NULL, &out, &err), LK_EINVAL);
    assert_string_equal(out.data, "kept");
    lk_buf_free(&out);
}

/* A system message with no user message to fold into is an error for the folding families. */
static void test_render_system_without_user(void **state) {
    (void)state;
    lk_buf out = {0};
    lk_error err = {0};
    const lk_chat_msg msgs[] = { { "user", "Hi" }, { "assistant", "Yo" }, { "system", "Shh" } };
    assert_int_equal(chat_render(CHAT_GEMMA, msgs, 3, true, NULL, NULL, &out, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "chat message 2 (system)"));
    assert_non_null(strstr(err.msg, "gemma"));
    const lk_chat_msg only[] = { { "assistant", "Yo" }, { "system", "Shh" } };
    assert_int_equal(chat_render(CHAT_MISTRAL_V3, only, 2, true, NULL, NULL, &out, &err),
                     LK_EINVAL);
    assert_non_null(strstr(err.msg, "chat message 1 (system)"));
    assert_null(out.data);
    /* the families with a system slot take it anywhere */
    assert_int_equal(chat_render(CHAT_CHATML, msgs, 3, false, NULL, NULL, &out, &err), LK_OK);
    lk_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_real_templates),
        cmocka_unit_test(test_detect_unknown_and_names),
        cmocka_unit_test(test_sources_detect_as_their_family),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_end_of_turn),
        cmocka_unit_test(test_resolve_name_wins),
        cmocka_unit_test(test_resolve_unknown_name_lists_names),
        cmocka_unit_test(test_resolve_without_usable_template),
        cmocka_unit_test(test_render_llama3),
        cmocka_unit_test(test_render_chatml),
        cmocka_unit_test(test_render_llama2),
        cmocka_unit_test(test_render_mistral_v1),
        cmocka_unit_test(test_render_mistral_v3),
        cmocka_unit_test(test_render_mistral_v3_tekken),
        cmocka_unit_test(test_render_mistral_v7),
        cmocka_unit_test(test_render_mistral_v7_tekken),
        cmocka_unit_test(test_render_gemma),
        cmocka_unit_test(test_render_phi3),
        cmocka_unit_test(test_render_zephyr),
        cmocka_unit_test(test_render_deepseek),
        cmocka_unit_test(test_render_vicuna),
        cmocka_unit_test(test_render_appends_and_defaults),
        cmocka_unit_test(test_render_deepseek_default_system),
        cmocka_unit_test(test_render_system_folding),
        cmocka_unit_test(test_render_unknown_role),
        cmocka_unit_test(test_render_system_without_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
