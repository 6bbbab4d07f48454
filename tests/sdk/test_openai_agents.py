"""The OpenAI Agents SDK's default agent (its default model speaks the Responses API) with one
function tool, through the gateway: the model calls the tool, the SDK runs it and sends the
result back, and the agent finishes with the model's answer — plain and streamed, to an
OpenAI-compatible model and to an Anthropic model.
"""
import asyncio

import pytest
from agents import (Agent, Runner, function_tool, set_default_openai_api,
                    set_default_openai_client, set_tracing_disabled)
from openai import AsyncOpenAI

# The SDK reads `provider/model` as its own provider prefix; `openai/` selects its OpenAI
# provider (the gateway) and passes the rest on: `openai/anthropic/claude-sonnet-4-5`.
MODELS = ["openai/mock/gpt-4o-mini", "openai/anthropic/claude-sonnet-4-5"]
calls: list = []


@function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    calls.append(city)
    return f"18°C and sunny in {city}"


@pytest.fixture(autouse=True)
def agents_client(gateway_url: str) -> None:
    set_tracing_disabled(True)
    set_default_openai_api("responses")
    set_default_openai_client(
        AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key="sk-agents-test", max_retries=0),
        use_for_tracing=False,
    )
    calls.clear()


def test_default_agent_with_a_function_tool() -> None:
    # No model: the SDK's default model name, which the gateway's config maps to a provider
    # with `model_aliases` (tests/sdk/run.sh).
    agent = Agent(name="Weather", instructions="Answer with the tool.", tools=[get_weather])
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    assert calls == ["mock"]
    assert result.final_output.startswith("Hello from the mock provider.")


@pytest.mark.parametrize("model", MODELS)
def test_agent_with_a_function_tool(model: str) -> None:
    agent = Agent(name="Weather", instructions="Answer with the tool.", tools=[get_weather],
                  model=f"{model};chunks=3")
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    assert calls == ["mock"]  # the mock model fills each required argument with "mock"
    assert result.final_output == "Hello from the"


@pytest.mark.parametrize("model", MODELS)
def test_agent_with_a_function_tool_streamed(model: str) -> None:
    agent = Agent(name="Weather", instructions="Answer with the tool.", tools=[get_weather],
                  model=f"{model};chunks=4")

    async def run() -> str:
        result = Runner.run_streamed(agent, "What is the weather in Oslo?")
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert asyncio.run(run()) == "Hello from the mock"
    assert calls == ["mock"]
