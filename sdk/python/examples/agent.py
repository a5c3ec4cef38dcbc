"""An agent that calls a tool through the IntentGate sidecar with the official MCP Python SDK.

It narrows the token its operator gave it to this one task (one tool, one folder, five minutes, this
prompt) before it uses it, so a hijacked step cannot do more than the task needs.

    INTENTGATE_URL=http://127.0.0.1:7070/mcp/files INTENTGATE_TOKEN=igt1.… python agent.py
"""

import asyncio
import os
import time

from intentgate import attenuate_token, bind_prompt
from intentgate.mcp import connect_sidecar, refusal_of, tool_call_meta


async def main() -> None:
    url = os.environ.get("INTENTGATE_URL", "http://127.0.0.1:7070/mcp/files")
    token = os.environ["INTENTGATE_TOKEN"]  # the token the operator minted for this agent
    prompt = "Summarise the quarterly report in /data/report.csv"
    task_token = bind_prompt(
        attenuate_token(
            token,
            [
                {"type": "tools", "allow": ["files.read_file"]},
                {"type": "arg", "path": "/path", "op": "under", "value": "/data"},
                {"type": "expires", "at": int(time.time()) + 300},
            ],
        ),
        prompt,
    )
    async with connect_sidecar(url, task_token) as session:
        for tool in ("read_file", "delete_file"):
            result = await session.call_tool(tool, {"path": "/data/report.csv"}, meta=tool_call_meta(prompt=prompt))
            refusal = refusal_of(result)
            if refusal is not None:
                print(f"{tool}: refused ({refusal.code}): {refusal.reason}")
            else:
                print(f"{tool}: {[c.model_dump(exclude_none=True) for c in result.content]}")


asyncio.run(main())
