// nnlite/core/registry.hpp: one mechanism behind every registry (layers, activations, losses, metrics, optimizers,
// schedules, callbacks): a Keras name (and its aliases) -> a creator, which users extend with their own entries.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"

namespace nnlite {

/// Name to creator, with aliases and a generated 'supported: ...' list: one per kind (layers, losses, ...).
template <class Creator>
class Registry {
 public:
  /// `kind` names what is registered in messages: "layer class", "loss", "optimizer".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Adds or replaces `name` (a user's entry wins over a built-in one of the same name). Aliases resolve to it but
  /// are not listed separately in supported().
  void add(const std::string& name, Creator creator, const std::vector<std::string>& aliases = {}) {
    if (name.empty()) throw ArgumentError("cannot register a " + kind_ + " without a name");
    entries_[name] = std::move(creator);
    aliases_.erase(name);
    for (const auto& a : aliases)
      if (a != name) aliases_[a] = name;
  }

  /// True when `name` (or an alias of it) is registered.
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  /// The creator for `name` or an alias of it; null when unknown.
  const Creator* find(const std::string& name) const {
    auto it = entries_.find(name);
    if (it != entries_.end()) return &it->second;
    auto a = aliases_.find(name);
    if (a != aliases_.end()) return find(a->second);
    return nullptr;
  }

  /// The creator for `name`, or UnsupportedError "<where>unknown <kind> '<name>' (supported: ...)".
  const Creator& at(const std::string& name, const std::string& where = "") const {
    if (const Creator* c = find(name)) return *c;
    throw UnsupportedError(where + "unknown " + kind_ + " '" + name + "' (supported: " + supported() + ")");
  }

  /// The canonical name an alias stands for ("MaxPool2D" -> "MaxPooling2D"); the name itself when it is one.
  std::string canonical(const std::string& name) const {
    auto a = aliases_.find(name);
    return a != aliases_.end() ? a->second : name;
  }

  /// Registered names, sorted (aliases left out).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.first);
    return out;
  }
  /// "a, b, c": what "supported: ..." messages and docs print.
  std::string supported() const {
    std::string s;
    for (const auto& n : names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }
  /// What the registry holds, for messages ("layer", "optimizer").
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, Creator> entries_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace nnlite
