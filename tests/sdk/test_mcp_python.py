"""MCP through official clients: the Python `mcp` SDK as a client of Heimdall's own `/mcp`
server (the tools of the MCP servers the gateway is connected to, aggregated), and the OpenAI
SDK getting those tools injected and run by agent mode.

This file starts its own gateway and recording mock (the shared gateway of the other SDK tests
has no MCP servers: injected tools would change every other test's conversation); the MCP
server is the reference `@modelcontextprotocol/server-everything` over stdio.
"""
import asyncio
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(url: str, what: str, ok=None, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                body = r.read()
                if ok is None or ok(json.loads(body)):
                    return
                last = body
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    pytest.fail(f"{what} not ready: {last}")


@pytest.fixture(scope="module")
def mcp_gateway():
    for var in ("HEIMDALL_BIN", "MOCK_BIN", "MCP_EVERYTHING"):
        if not os.environ.get(var):
            pytest.fail(f"{var} is not set: run the SDK tests through tests/sdk/run.sh")
    work = tempfile.mkdtemp()
    mock_port, gw_port = _free_port(), _free_port()
    procs = [subprocess.Popen(
        [os.environ["MOCK_BIN"], "--host", "127.0.0.1", "--port", str(mock_port), "--record"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    config = {
        "providers": {"mock": {
            "type": "custom",
            "keys": [{"name": "k", "value": "sk-mock", "models": [], "weight": 1.0}],
            "network_config": {"base_url": f"http://127.0.0.1:{mock_port}/v1"},
        }},
        "mcp": {"client_configs": [{
            "name": "everything", "connection_type": "stdio",
            "stdio_config": {"command": "node", "args": [os.environ["MCP_EVERYTHING"], "stdio"]},
            "tools_to_auto_execute": ["echo"],
        }]},
        "governance": {"virtual_keys": [
            {"id": "echo-only", "value": "sk-bf-mcp-echo-only",
             "mcp_configs": [{"mcp_client_name": "everything", "tools_to_execute": ["echo"]}]},
        ]},
    }
    path = os.path.join(work, "config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    log = open(os.path.join(work, "gateway.log"), "w")
    procs.append(subprocess.Popen(
        [os.environ["HEIMDALL_BIN"], "serve", "--config", path, "--port", str(gw_port),
         "--app-dir", work, "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT))
    gw = f"http://127.0.0.1:{gw_port}"
    try:
        _wait(f"http://127.0.0.1:{mock_port}/health", "mock")
        _wait(f"{gw}/ready", "gateway")
        _wait(f"{gw}/api/mcp/clients", "the MCP server connection",
              ok=lambda b: any(c.get("state") == "connected" for c in b.get("clients", [])))
        yield {"gateway": gw, "mock": f"http://127.0.0.1:{mock_port}"}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        log.close()


def _mock_requests(mock: str) -> list:
    with urllib.request.urlopen(f"{mock}/_mock/requests") as r:
        return json.loads(r.read())


def test_mcp_sdk_lists_and_calls_the_aggregated_tools(mcp_gateway):
    async def run():
        async with Client(f"{mcp_gateway['gateway']}/mcp") as client:
            tools = await client.list_tools()
            names = {t.name for t in tools.tools}
            assert {"everything-echo", "everything-get-sum"} <= names, names
            echo = next(t for t in tools.tools if t.name == "everything-echo")
            assert echo.input_schema["properties"]["message"]["type"] == "string"
            result = await client.call_tool("everything-echo", {"message": "through the gateway"})
            assert not result.is_error
            assert result.content[0].text == "Echo: through the gateway"
            total = await client.call_tool("everything-get-sum", {"a": 19, "b": 23})
            assert "42" in total.content[0].text
    asyncio.run(run())


def test_mcp_sdk_with_a_virtual_key_sees_only_its_tools(mcp_gateway):
    async def run():
        headers = {"Authorization": "Bearer sk-bf-mcp-echo-only"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            async with streamable_http_client(f"{mcp_gateway['gateway']}/mcp", http_client=http) as streams:
                from mcp import ClientSession
                async with ClientSession(*streams[:2]) as session:
                    await session.initialize()
                    tools = await session.list_tools()
                    assert [t.name for t in tools.tools] == ["everything-echo"]
    asyncio.run(run())


def _openai(mcp_gateway) -> OpenAI:
    return OpenAI(base_url=f"{mcp_gateway['gateway']}/v1", api_key="unused")


def _agent_logs(mcp_gateway) -> list:
    with urllib.request.urlopen(f"{mcp_gateway['gateway']}/api/mcp/logs?source=agent") as r:
        return json.loads(r.read())["logs"]


def test_openai_sdk_request_reaches_the_model_with_the_mcp_tools(mcp_gateway):
    client = _openai(mcp_gateway)
    urllib.request.urlopen(urllib.request.Request(f"{mcp_gateway['mock']}/_mock/requests", method="DELETE"))
    client.chat.completions.create(
        model="mock/gpt-4o-mini", tool_choice="none",
        messages=[{"role": "user", "content": "hi"}])
    sent = [r for r in _mock_requests(mcp_gateway["mock"]) if r["path"].endswith("/chat/completions")]
    names = [t["function"]["name"] for t in sent[-1]["body"]["tools"]]
    assert "everything-echo" in names and "everything-get-sum" in names, names


def test_openai_sdk_agent_mode_runs_the_tool_loop(mcp_gateway):
    before = len(_agent_logs(mcp_gateway))
    raw = _openai(mcp_gateway).chat.completions.with_raw_response.create(
        model="mock/gpt-4o-mini", messages=[{"role": "user", "content": "echo something"}],
        extra_headers={"x-bf-mcp-include-tools": "everything-echo"})
    assert raw.headers["x-heimdall-agent-steps"] == "2"
    done = raw.parse()
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content
    logs = _agent_logs(mcp_gateway)
    assert len(logs) == before + 1 and logs[0]["result"] == "Echo: mock", logs


def test_openai_sdk_agent_mode_streamed_tool_loop(mcp_gateway):
    before = len(_agent_logs(mcp_gateway))
    stream = _openai(mcp_gateway).chat.completions.create(
        model="mock/gpt-4o-mini", messages=[{"role": "user", "content": "echo something"}],
        stream=True, stream_options={"include_usage": True},
        extra_headers={"x-bf-mcp-include-tools": "everything-echo"})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert len(_agent_logs(mcp_gateway)) == before + 1
