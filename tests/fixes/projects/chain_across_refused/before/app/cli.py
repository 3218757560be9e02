import sys

from app import signing


def main():
    print(signing.sign_op1(sys.argv[1]))
