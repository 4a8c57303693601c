"""SNS signature building blocks: the string AWS signs, the URL rules, the certificate folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from commandpost.alerts.sources.sns_confirm import check_subscribe_url
from commandpost.alerts.sources.sns_verify import (
    check_cert_url,
    load_certificate,
    string_to_sign,
    verify_signature,
)
from commandpost.errors import Forbidden
from tests.fixtures.sns import signer


def test_string_to_sign_is_the_aws_documented_example() -> None:
    # sns-verify-signature-of-message.md, verbatim.
    message = {
        "Type": "Notification",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Subject": "My subject",
        "Message": "My Test Message",
        "Timestamp": "2019-01-31T04:37:04.321Z",
        "SignatureVersion": "1",
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    }
    assert string_to_sign(message) == (
        b"Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
        b"Subject\nMy subject\nTimestamp\n2019-01-31T04:37:04.321Z\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\nType\nNotification\n"
    )


def test_string_to_sign_without_subject_and_for_subscriptions() -> None:
    note = {"Type": "Notification", "Message": "m", "MessageId": "i", "Timestamp": "t", "TopicArn": "a"}
    assert (
        string_to_sign(note) == b"Message\nm\nMessageId\ni\nTimestamp\nt\nTopicArn\na\nType\nNotification\n"
    )
    conf = signer.fixture("subscription_confirmation.json")
    text = string_to_sign(conf).decode()
    assert text.startswith("Message\nYou have chosen to subscribe to the topic")
    assert "\nSubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&" in text
    assert text.index("\nToken\n") < text.index("\nTopicArn\n") < text.index("\nType\n")
    assert "SigningCertURL" not in text and "Signature" not in text


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
    ],
)
def test_aws_certificate_urls_are_accepted(url: str) -> None:
    assert check_cert_url(url).endswith(".pem")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem", "https"),
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.txt", ".pem"),
        ("https://sns.us-east-1.amazonaws.com/cert.pem?x=1", "query"),
        ("https://sns.us-east-1.amazonaws.com.evil.com/x.pem", "not an AWS SNS host"),
        ("https://evilsns.us-east-1.amazonaws.com/x.pem", "not an AWS SNS host"),
        ("https://sns.us-east-1.amazonaws.com.cn.evil.com/x.pem", "not an AWS SNS host"),
        ("https://my-bucket.s3.amazonaws.com/x.pem", "not an AWS SNS host"),
        ("https://sns.amazonaws.com/x.pem", "not an AWS SNS host"),
        ("https://sns.us-east-1.amazonaws.com./x.pem", "not an AWS SNS host"),
        ("https://evil.com@sns.us-east-1.amazonaws.com/x.pem", "user info"),
        ("https://sns.us-east-1.amazonaws.com@evil.com/x.pem", "user info"),
        ("https://sns.us-east-1.amazonaws.com:8443/x.pem", "port"),
        ("https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem", "backslash"),
        ("https://sns.us-east-1.amazonaws.com/x.pem\n", "whitespace"),
        ("https://sns.us-east-1.amazonaws.com/..%2F..%2Fetc%2Fx.pem", "file name"),
        ("https://SNS.US-EAST-1.amazonaws.com/x.pem", "upper-case"),
    ],
)
def test_suspicious_certificate_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(Forbidden, match="SigningCertURL") as info:
        check_cert_url(url)
    assert why in info.value.message


def test_subscribe_url_rules() -> None:
    good = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:x&Token=2336"
    assert check_subscribe_url(good) == good
    for bad, why in [
        ("http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "https"),
        ("https://sns.us-west-2.amazonaws.com.evil.com/?Action=ConfirmSubscription", "not an AWS SNS host"),
        ("https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x", "ConfirmSubscription"),
        ("https://127.0.0.1/?Action=ConfirmSubscription", "not an AWS SNS host"),
    ]:
        with pytest.raises(Forbidden, match="SubscribeURL") as info:
            check_subscribe_url(bad)
        assert why in info.value.message


def test_certificate_is_read_from_the_folder_by_file_name(tmp_path: Path) -> None:
    cert = signer.certificate(signer.private_key())
    signer.write_cert(tmp_path, cert, "SimpleNotificationService-abc.pem")
    url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
    assert load_certificate(url, cert_dir=tmp_path, http=None) == cert
    with pytest.raises(Forbidden, match=r"SimpleNotificationService-def\.pem is not in sns_cert_dir"):
        load_certificate(url.replace("abc", "def"), cert_dir=tmp_path, http=None)


def test_a_folder_file_that_is_not_a_certificate_or_is_huge_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    (tmp_path / "huge.pem").write_bytes(b"A" * 100_000)
    with pytest.raises(Forbidden, match=r"not a PEM X\.509 certificate"):
        load_certificate("https://sns.us-east-1.amazonaws.com/junk.pem", cert_dir=tmp_path, http=None)
    with pytest.raises(Forbidden, match="larger than"):
        load_certificate("https://sns.us-east-1.amazonaws.com/huge.pem", cert_dir=tmp_path, http=None)


@pytest.mark.parametrize("version", ["1", "2"])
def test_signatures_verify_and_a_changed_byte_does_not(tmp_path: Path, version: str) -> None:
    signer.write_cert(tmp_path, signer.certificate(signer.private_key()))
    message = signer.sign(signer.notification("hello"), version=version)
    verify_signature(message, cert_dir=tmp_path, http=None, now=signer.NOW)
    with pytest.raises(Forbidden, match="signature does not match"):
        verify_signature(dict(message, Message="hellO"), cert_dir=tmp_path, http=None, now=signer.NOW)
    other = "2" if version == "1" else "1"
    with pytest.raises(Forbidden, match="signature does not match"):
        verify_signature(dict(message, SignatureVersion=other), cert_dir=tmp_path, http=None, now=signer.NOW)


def test_expired_certificate_and_bad_base64_are_refused(tmp_path: Path) -> None:
    key = signer.private_key()
    expired = signer.certificate(key, not_before=signer.NOW - timedelta(days=400), not_after=signer.NOW)
    signer.write_cert(tmp_path, expired)
    message = signer.sign(signer.notification("hello"))
    with pytest.raises(Forbidden, match="is not valid at"):
        verify_signature(message, cert_dir=tmp_path, http=None, now=signer.NOW + timedelta(seconds=1))
    with pytest.raises(Forbidden, match="not valid base64"):
        verify_signature(dict(message, Signature="@@@"), cert_dir=tmp_path, http=None, now=signer.NOW)
