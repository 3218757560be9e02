# fix: offload-block
import json


async def read(path):
    with open(path) as fh:
        return fh.read()


async def load(path, key):
    with open(path, encoding="utf-8") as fh:
        config = json.load(fh)
        options = config.get(key, {})
    # Both names come back from the thread.
    return config, options


async def copy_lines(src, dst):
    with open(src) as a, open(dst, "w") as b:
        for line in a:
            if not line.strip():
                continue
            b.write(line)


async def keep_layout(path):
    with open(path, "w") as fh:
        fh.write("""first line
  second line, indented in the string
""")

        fh.write("end\n")
    return path
