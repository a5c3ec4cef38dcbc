"""The Python side of the cross-language tests: mint, attenuate and call through the sidecar.

    xlang.py mint KEYFILE TENANT SUBJECT CAVEATS_JSON
    xlang.py attenuate TOKEN CAVEATS_JSON
    xlang.py call URL TOKEN TOOL ARGUMENTS_JSON
Prints one line: a token, or the call's outcome as JSON {"refused": code | null, "text": ...}.
"""

import asyncio
import json
import sys
import time

from intentgate import TokenKeys, attenuate_token, mint_token
from intentgate.mcp import connect_sidecar, refusal_of


async def call(url: str, token: str, tool: str, arguments: dict) -> dict:
    async with connect_sidecar(url, token) as session:
        result = await session.call_tool(tool, arguments)
        refusal = refusal_of(result)
        text = "".join(getattr(c, "text", "") for c in result.content)
        return {"refused": refusal.code if refusal else None, "is_error": bool(result.isError), "text": text}


def main(argv: list) -> None:
    command = argv[0]
    if command == "mint":
        with open(argv[1], encoding="utf-8") as f:
            keys = TokenKeys.from_file(json.load(f))
        print(mint_token(keys, tenant=argv[2], subject=argv[3], issued_at=int(time.time()), caveats=json.loads(argv[4])))
    elif command == "attenuate":
        print(attenuate_token(argv[1], json.loads(argv[2])))
    elif command == "call":
        print(json.dumps(asyncio.run(call(argv[1], argv[2], argv[3], json.loads(argv[4])))))
    else:
        raise SystemExit(f"unknown command {command}")


main(sys.argv[1:])
