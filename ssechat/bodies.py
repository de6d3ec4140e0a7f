"""The JSON body of each provider's chat request, built from the user's `Prompt`.

`Prompt` is what the user asked for on the command line; `parse_tools` reads
`--tools` in OpenAI's shape (`{"type": "function", "function": {...}}`), the
flat shape (`{"name", "description", "parameters"}`) or Anthropic's
(`input_schema`); one builder per provider translates both into its body
(`ssechat.providers` holds the table that names them). Everything here is
pure. docs/transport.md lists each provider's shape.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ssechat.errors import UsageError

JSONObject = dict[str, Any]

ANTHROPIC_MAX_TOKENS: Final = 4096
COZE_DEFAULT_USER: Final = "ssechat"
SCHEMA_NAME: Final = "response"


class Tool(NamedTuple):
    """A function the model may call, in no provider's shape."""

    name: str
    description: str
    parameters: JSONObject


class Prompt(NamedTuple):
    """What the user asked for, from the command line."""

    text: str | None = None
    system: str | None = None
    model: str | None = None
    tools: tuple[Tool, ...] = ()
    json_mode: bool = False
    schema: JSONObject | None = None
    schema_strict: bool = True  # openai, openai-responses: "strict" of the JSON schema
    max_tokens: int | None = None
    body: JSONObject | None = None  # --body: sent as given (streaming forced)
    background: bool = False  # openai-responses: "background": true (continuable)
    # coze
    bot_id: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None


def require_text(prompt: Prompt) -> str:
    if prompt.text is None:
        raise UsageError("no prompt: give it as arguments or on stdin")
    return prompt.text


def refuse(provider: str, what: str, hint: str = "") -> UsageError:
    return UsageError(f"{provider} does not support {what}" + (f"; {hint}" if hint else ""))


def parse_tools(document: Any) -> tuple[Tool, ...]:
    """Function definitions from a --tools file (a list, or {"tools": [...]})."""
    if isinstance(document, dict) and "tools" in document:
        document = document["tools"]
    if not isinstance(document, list):
        raise UsageError("--tools: expected a JSON list of function definitions")
    tools: list[Tool] = []
    for item in document:
        if not isinstance(item, dict):
            raise UsageError("--tools: every tool must be a JSON object")
        spec = item.get("function", item) if item.get("type", "function") == "function" else item
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise UsageError("--tools: every tool needs a name")
        params = spec.get("parameters", spec.get("input_schema", {"type": "object"}))
        if not isinstance(params, dict):
            raise UsageError(f"--tools: the parameters of {spec['name']} must be a JSON object")
        tools.append(Tool(spec["name"], str(spec.get("description", "")), params))
    return tuple(tools)


# -- body builders --------------------------------------------------------------


def openai_chat(prompt: Prompt, model: str | None) -> JSONObject:
    messages: list[JSONObject] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    messages.append({"role": "user", "content": require_text(prompt)})
    body: JSONObject = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if prompt.max_tokens is not None:
        body["max_tokens"] = prompt.max_tokens
    if prompt.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in prompt.tools
        ]
    if prompt.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": SCHEMA_NAME,
                "schema": prompt.schema,
                "strict": prompt.schema_strict,
            },
        }
    elif prompt.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body


def openai_responses(prompt: Prompt, model: str | None) -> JSONObject:
    body: JSONObject = {
        "model": model,
        "input": [{"role": "user", "content": require_text(prompt)}],
        "stream": True,
    }
    if prompt.system:
        body["instructions"] = prompt.system
    if prompt.max_tokens is not None:
        body["max_output_tokens"] = prompt.max_tokens
    if prompt.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
            }
            for t in prompt.tools
        ]
    if prompt.schema is not None:
        body["text"] = {
            "format": {
                "type": "json_schema",
                "name": SCHEMA_NAME,
                "schema": prompt.schema,
                "strict": prompt.schema_strict,
            }
        }
    elif prompt.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    return body


def anthropic(prompt: Prompt, model: str | None) -> JSONObject:
    body: JSONObject = {
        "model": model,
        "max_tokens": prompt.max_tokens or ANTHROPIC_MAX_TOKENS,
        "messages": [{"role": "user", "content": require_text(prompt)}],
        "stream": True,
    }
    if prompt.system:
        body["system"] = prompt.system
    if prompt.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in prompt.tools
        ]
    if prompt.schema is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": prompt.schema}}
    elif prompt.json_mode:
        raise refuse("anthropic", "a JSON-object mode", "give a JSON schema with --schema")
    return body


def coze(prompt: Prompt, model: str | None) -> JSONObject:
    if not prompt.bot_id:
        raise UsageError("coze needs --bot-id")
    for given, what in (
        (prompt.system, "--system (the bot's persona is set in the bot)"),
        (prompt.tools, "--tools (plugins are set in the bot)"),
        (prompt.json_mode or prompt.schema is not None, "--json or --schema"),
        (prompt.max_tokens, "--max-tokens"),
    ):
        if given:
            raise refuse("coze", what)
    return {
        "bot_id": prompt.bot_id,
        "user_id": prompt.user_id or COZE_DEFAULT_USER,
        "stream": True,
        "auto_save_history": True,
        "additional_messages": [
            {"role": "user", "content": require_text(prompt), "content_type": "text"}
        ],
    }


def gemini(prompt: Prompt, model: str | None) -> JSONObject:
    body: JSONObject = {"contents": [{"role": "user", "parts": [{"text": require_text(prompt)}]}]}
    if prompt.system:
        body["systemInstruction"] = {"parts": [{"text": prompt.system}]}
    if prompt.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {"name": t.name, "description": t.description, "parameters": t.parameters}
                    for t in prompt.tools
                ]
            }
        ]
    config: JSONObject = {}
    if prompt.max_tokens is not None:
        config["maxOutputTokens"] = prompt.max_tokens
    if prompt.schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = prompt.schema
    elif prompt.json_mode:
        config["responseMimeType"] = "application/json"
    if config:
        body["generationConfig"] = config
    return body
