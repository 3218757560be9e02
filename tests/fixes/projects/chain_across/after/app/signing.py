from .ops import internal_signing_op


async def sign_op1(request_id):
    return await internal_signing_op(1, request_id)
