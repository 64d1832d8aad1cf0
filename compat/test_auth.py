"""SigV4 verification (STEPLINE_AUTH=sigv4): boto3's signatures are checked against the
configured key pair; without the setting any signature is accepted (see test_protocol)."""

import pytest
from botocore.exceptions import ClientError

from conftest import client, start_server, stop_server

KEY, SECRET = "AKIDSTEPLINETEST", "s3cr3t/with+chars"


@pytest.fixture(scope="module")
def signed_server():
    s = start_server({"STEPLINE_AUTH": "sigv4", "STEPLINE_AUTH_ACCESS_KEY_ID": KEY,
                      "STEPLINE_AUTH_SECRET_ACCESS_KEY": SECRET})
    yield s
    stop_server(s)


def test_valid_signature_is_accepted(signed_server):
    sfn = client(signed_server.url, KEY, SECRET)
    assert "stateMachines" in sfn.list_state_machines()
    arn = sfn.create_activity(name="signed")["activityArn"]
    assert sfn.describe_activity(activityArn=arn)["name"] == "signed"


@pytest.mark.parametrize("key,secret,code", [
    (KEY, "wrong", "InvalidSignatureException"),
    ("AKIDOTHER", SECRET, "UnrecognizedClientException"),
])
def test_bad_credentials_are_refused(signed_server, key, secret, code):
    with pytest.raises(ClientError) as e:
        client(signed_server.url, key, secret).list_state_machines()
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unsigned_request_is_refused(signed_server):
    import json
    import urllib.error
    import urllib.request
    req = urllib.request.Request(signed_server.url + "/", data=json.dumps({}).encode(), method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert json.loads(e.value.read())["__type"] == "MissingAuthenticationTokenException"
