{
  "signatures": [
    {
      "keyid": "86ba3398d63b7a1dce63f6ccb62962c09705cf09d0101427b4a4437d58c6e4ba",
      "sig": "26c8c21fd42e29c642b612d3282cf534b844ccd295d79314c84228d2fe62fd0c708c8d06158e492b378f9b810286ab36bfa5264ec3bc14d20b99e9518356b607"
    },
    {
      "keyid": "fb0e90d8690bb745374add3a00d42c9a76a2b417328f26adb80c250b449e8e2e",
      "sig": "3046022100921cfdebe1cd01d4d1dc2baadaf6dffa90fa3c63e161514b7d0084f081bb4737022100df502c3bc1a00c5355bf905719fcfb8f55488f35e067e8b85f0bf98061794a9b"
    }
  ],
  "signed": {
    "_type": "vouch-file-signature",
    "hashes": {
      "sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
      "sha512": "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"
    },
    "length": 6, "length": 7,
    "name": "fw.bin"
  }
}
