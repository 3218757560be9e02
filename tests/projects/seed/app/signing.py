import requests


def internal_signing_op(payload):
    return requests.Session().request("POST", "https://signer.internal/sign", json=payload)


def sign_op1(request_id):
    return internal_signing_op({"id": request_id})
