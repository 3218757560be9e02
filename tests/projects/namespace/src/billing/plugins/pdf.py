import subprocess


def to_pdf(template: str, number: int) -> bytes:
    return subprocess.run(["wkhtmltopdf", template, "-"], capture_output=True, check=True).stdout
