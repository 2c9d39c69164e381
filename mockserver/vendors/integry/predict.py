"""Picking the function a prompt asks for, and its arguments, deterministically: the function
whose app, name and description share the most words with the prompt; arguments from the
prompt's own words and `_variables` as `{name}` reference tags."""
from __future__ import annotations

import re
from typing import Any

STOP = frozenset("a an and are as at be by for from in include is it of on or that the this "
                 "to with just new".split())
_WORD = re.compile(r"[a-z0-9]+")
# "on random", "in #general", "to sales": where a message goes
_CHANNEL = re.compile(r"\b(?:on|in|to|into)\s+#?([A-Za-z0-9][\w-]*)")
TEXT_PARAMS = ("text", "message", "content", "body", "comment", "note", "description")


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP and len(w) > 1}


def score(prompt_words: set[str], fn: dict[str, Any], app_title: str) -> int:
    app_words = words(fn["app"].replace("-", " ")) | words(app_title)
    name_words = words(fn["name"].replace("-", " "))
    return 3 * len(prompt_words & app_words) + 2 * len(prompt_words & name_words) \
        + len(prompt_words & words(fn.get("description", "")))


def best(prompt: str, functions: list[dict[str, Any]],
         titles: dict[str, str]) -> dict[str, Any] | None:
    prompt_words = words(prompt)
    ranked = sorted(functions, key=lambda f: (-score(prompt_words, f, titles.get(f["app"], "")),
                                              f["type"] == "PASSTHROUGH", f["name"]))
    if not ranked or score(prompt_words, ranked[0], titles.get(ranked[0]["app"], "")) == 0:
        return None
    return ranked[0]


def arguments(prompt: str, variables: dict[str, Any], fn: dict[str, Any],
              app_title: str) -> dict[str, Any]:
    """Values for the function's parameters: a destination named in the prompt, a text made of
    the prompt and one line per variable (`First Name: {first_name}`), and any parameter that a
    variable names."""
    props: dict[str, Any] = fn.get("parameters", {}).get("properties", {})
    out: dict[str, Any] = {}
    skip = {w.lower() for w in words(fn["app"].replace("-", " ")) | words(app_title)}
    if "channel" in props:
        for m in _CHANNEL.finditer(prompt):
            if m.group(1).lower() not in skip | {"a", "an", "the"}:
                out["channel"] = m.group(1)
                break
    text_param = next((p for p in TEXT_PARAMS if p in props
                       and props[p].get("type") == "string"), None)
    if text_param is not None:
        sentence = _CHANNEL.sub("", prompt)
        sentence = re.sub(r"^\s*(send|post|write|create|add)\b.*?\bthat\s+", "", sentence,
                          flags=re.IGNORECASE).strip()
        lines = [sentence[:1].upper() + sentence[1:]] if sentence else []
        lines += [f"{k.replace('_', ' ').title()}: {{{k}}}" for k in variables]
        out[text_param] = "\n".join(lines)
    for name in variables:
        if name in props and name not in out:
            out[name] = "{" + name + "}"
    return out
