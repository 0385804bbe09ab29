// The JSON answers of `bpftune status --json` and `bpftune tunables --json`, shaped so that
// scripts written for upstream bpftune's jstatus and jtunables queries keep working: pure
// functions of the status document and the compiled-in tables, unit-tested.
#pragma once

#include <nlohmann/json.hpp>

namespace bpftune::cli {

// The status document plus, for each tuner, upstream's jstatus object: the home namespace's
// values, {"tuner": {"sysctl": value | [v0, v1, v2]}}. A tuner name that would shadow a key of
// the document is left out (the document's keys are the interface of this implementation).
nlohmann::json statusWithUpstreamKeys(const nlohmann::json& status);

// Upstream's jtunables, {"tuner": {"sysctl": {"type", "num_values"}}}, for every tuner of this
// build, each tunable with its scope ("netns", "global" or "host") and value kind as well.
nlohmann::json tunablesJson();

}  // namespace bpftune::cli
