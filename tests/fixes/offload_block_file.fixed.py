# fix: offload-block
import asyncio
import json


async def read(path):
    def _in_thread():
        with open(path) as fh:
            return fh.read()

    return await asyncio.to_thread(_in_thread)


async def load(path, key):
    def _in_thread():
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
            options = config.get(key, {})
        return config, options

    config, options = await asyncio.to_thread(_in_thread)
    # Both names come back from the thread.
    return config, options


async def copy_lines(src, dst):
    def _in_thread():
        with open(src) as a, open(dst, "w") as b:
            for line in a:
                if not line.strip():
                    continue
                b.write(line)

    await asyncio.to_thread(_in_thread)


async def keep_layout(path):
    def _in_thread():
        with open(path, "w") as fh:
            fh.write("""first line
  second line, indented in the string
""")

            fh.write("end\n")

    await asyncio.to_thread(_in_thread)
    return path
