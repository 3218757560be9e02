from .ops import internal_signing_op


def sign_op1(request_id):
    return internal_signing_op(1, request_id)
