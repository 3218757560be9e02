import requests


def internal_signing_op(op_num, request_id):
    response = requests.get(f"http://127.0.0.1:9000/sign/{request_id}/{op_num}", timeout=10)
    return response.text
