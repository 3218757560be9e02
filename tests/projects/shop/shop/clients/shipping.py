import subprocess

import requests

LABEL_PRINTER = "zebra-01"


def render_label(order_id: int, path: str) -> None:
    with open(path, "w") as fh:
        fh.write(f"^XA^FO50,50^ADN,36,20^FDOrder {order_id}^FS^XZ")


def print_label(order_id: int) -> None:
    # Blocks twice: through render_label (open) and directly (subprocess.run). The direct call is the
    # shorter chain.
    path = f"/tmp/label-{order_id}.zpl"
    render_label(order_id, path)
    subprocess.run(["lp", "-d", LABEL_PRINTER, path], check=True)


class ShippingClient:
    base_url = "https://shipping.internal"

    def ping(self) -> bool:
        return requests.head(f"{self.base_url}/health", timeout=2).ok
