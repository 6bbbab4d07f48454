"""boto3's `bedrock-runtime` client against `/bedrock`: `converse` and `converse_stream`
(AWS event-stream framing) reach any configured provider; errors are botocore ClientErrors."""
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

MODELS = ["mock/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
                                 "inputSchema": {"json": {"type": "object",
                                                          "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}}],
         "toolChoice": {"any": {}}}


@pytest.fixture()
def brt(gateway_url: str):
    return boto3.client("bedrock-runtime", endpoint_url=f"{gateway_url}/bedrock", region_name="us-east-1",
                        aws_access_key_id="AKIDUNUSED", aws_secret_access_key="unused",
                        config=Config(retries={"max_attempts": 1}))


def user(text: str) -> list:
    return [{"role": "user", "content": [{"text": text}]}]


@pytest.mark.parametrize("model", MODELS)
def test_converse(brt, model: str) -> None:
    r = brt.converse(modelId=f"{model};chunks=3", messages=user("Hi"), system=[{"text": "Be brief."}],
                     inferenceConfig={"maxTokens": 50})
    assert r["output"]["message"]["content"][0]["text"] == "Hello from the"
    assert r["stopReason"] == "end_turn"
    assert r["usage"]["outputTokens"] == 3


@pytest.mark.parametrize("model", MODELS)
def test_converse_stream(brt, model: str) -> None:
    r = brt.converse_stream(modelId=f"{model};chunks=4", messages=user("Hi"))
    text, stop, usage = "", None, None
    for ev in r["stream"]:
        if "contentBlockDelta" in ev:
            text += ev["contentBlockDelta"]["delta"].get("text", "")
        if "messageStop" in ev:
            stop = ev["messageStop"]["stopReason"]
        if "metadata" in ev:
            usage = ev["metadata"]["usage"]
    assert text == "Hello from the mock"
    assert stop == "end_turn"
    assert usage["outputTokens"] == 4


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_use(brt, model: str) -> None:
    r = brt.converse_stream(modelId=f"{model};chunks=4", messages=user("Weather in Paris?"), toolConfig=TOOLS)
    name, args, stop = None, "", None
    for ev in r["stream"]:
        if "contentBlockStart" in ev:
            name = ev["contentBlockStart"]["start"]["toolUse"]["name"]
        if "contentBlockDelta" in ev and "toolUse" in ev["contentBlockDelta"]["delta"]:
            args += ev["contentBlockDelta"]["delta"]["toolUse"]["input"]
        if "messageStop" in ev:
            stop = ev["messageStop"]["stopReason"]
    assert name == "get_weather"
    assert json.loads(args) == {"city": "mock"}
    assert stop == "tool_use"


def test_errors_are_client_errors(brt) -> None:
    with pytest.raises(ClientError) as e:
        brt.converse(modelId="nope/model", messages=user("Hi"))
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_bare_model_goes_to_the_bedrock_provider(brt) -> None:
    # Several configured providers accept any model; on /bedrock a bare modelId means Bedrock.
    r = brt.converse(modelId="anthropic.claude-3-5-haiku-20241022-v1:0", messages=user("Hi"))
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-heimdall-provider"] == "bedrock"
    assert r["output"]["message"]["content"][0]["text"]


@pytest.mark.parametrize("model", MODELS)
def test_tool_use(brt, model: str) -> None:
    r = brt.converse(modelId=model, messages=user("Weather in Paris?"), toolConfig=TOOLS)
    tool = [b["toolUse"] for b in r["output"]["message"]["content"] if "toolUse" in b][0]
    assert tool["name"] == "get_weather"
    assert tool["input"] == {"city": "mock"}
    assert r["stopReason"] == "tool_use"
