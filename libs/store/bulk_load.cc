#include "libs/store/bulk_load.h"

#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <cstring>

#include "libs/base/status_macros.h"
#include "libs/store/keys.h"
#include "libs/store/rocksdb_status.h"

namespace tailor::store {
namespace {

// Bytes [from, from + 8) of `key` as a big-endian number, zero-padded.
uint64_t HeadWord(absl::string_view key, size_t from) {
  unsigned char bytes[8] = {};
  if (key.size() > from) {
    std::memcpy(bytes, key.data() + from,
                std::min<size_t>(8, key.size() - from));
  }
  uint64_t v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  return v;
}

}  // namespace

void BulkLoad::Check(bool ok, absl::string_view what) {
  if (!ok && status_.ok()) status_ = absl::InvalidArgumentError(what);
}

void BulkLoad::Add(std::vector<Entry>* entries, bool erase,
                   absl::string_view value) {
  Entry e;
  e.head[0] = HeadWord(key_, 0);
  e.head[1] = HeadWord(key_, 8);
  e.at = keys_.size();
  e.value = value.data();
  e.key_size = static_cast<uint32_t>(key_.size());
  e.value_size = static_cast<uint32_t>(value.size());
  e.seq = static_cast<uint32_t>(Count());
  e.erase = erase;
  keys_.append(key_);
  value_bytes_ += value.size();
  entries->push_back(e);
}

void BulkLoad::PutProfile(int32_t partition, absl::string_view customer_id,
                          absl::string_view value) {
  Check(partition >= 0, "PutProfile: partition must be >= 0");
  keys::EncodeProfileKey(partition, customer_id, &key_);
  Add(&profiles_, /*erase=*/false, value);
}

void BulkLoad::DeleteProfile(int32_t partition, absl::string_view customer_id) {
  Check(partition >= 0, "DeleteProfile: partition must be >= 0");
  keys::EncodeProfileKey(partition, customer_id, &key_);
  Add(&profiles_, /*erase=*/true, absl::string_view());
  deletes_ = true;
}

void BulkLoad::PutTimer(int32_t partition, int64_t fire_at_ms,
                        absl::string_view customer_id,
                        absl::string_view timer_id, absl::string_view value) {
  Check(partition >= 0, "PutTimer: partition must be >= 0");
  Check(keys::ValidCustomerIdForTimer(customer_id),
        "PutTimer: customer id contains a 0x00 byte");
  keys::EncodeTimerKey(partition, fire_at_ms, customer_id, timer_id, &key_);
  Add(&timers_, /*erase=*/false, value);
}

size_t BulkLoad::ByteSize() const {
  return keys_.size() + value_bytes_ + Count() * sizeof(Entry);
}

void BulkLoad::Clear() {
  keys_.clear();
  value_bytes_ = 0;
  profiles_.clear();
  timers_.clear();
  status_ = absl::OkStatus();
  deletes_ = false;
}

void BulkLoad::Sort(std::vector<Entry>* entries) const {
  std::sort(entries->begin(), entries->end(),
            [this](const Entry& a, const Entry& b) {
              if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
              if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
              // Equal up to 16 bytes: the rest decides, then the order of
              // addition.
              const int c = KeyOf(a).compare(KeyOf(b));
              return c != 0 ? c < 0 : a.seq < b.seq;
            });
}

size_t BulkLoad::KeyBoundary(const std::vector<Entry>& sorted,
                             size_t at) const {
  while (at > 0 && at < sorted.size() &&
         KeyOf(sorted[at]) == KeyOf(sorted[at - 1])) {
    ++at;
  }
  return at;
}

absl::Status BulkLoad::Write(absl::Span<const Entry> sorted,
                             rocksdb::SstFileWriter* writer) const {
  for (size_t i = 0; i < sorted.size(); ++i) {
    const Entry& e = sorted[i];
    const absl::string_view key = KeyOf(e);
    if (i + 1 < sorted.size() && KeyOf(sorted[i + 1]) == key) {
      continue;  // a later change of the same key follows
    }
    const rocksdb::Slice key_slice(key.data(), key.size());
    if (e.erase) {
      TAILOR_RETURN_IF_ERROR(
          RocksStatus(writer->Delete(key_slice), "bulk load: delete"));
    } else {
      TAILOR_RETURN_IF_ERROR(RocksStatus(
          writer->Put(key_slice, rocksdb::Slice(e.value, e.value_size)),
          "bulk load: put"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tailor::store
