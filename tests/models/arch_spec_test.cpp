// The registry's tables are consistent: every architecture has the projections and norms the decoder
// wires by role, module paths sit where the decoder registers them, and lookups work by every name.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "models/arch_spec.h"

namespace tailor::models {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(ArchSpec, RegistryHasTheRequiredArchitectures) {
  std::set<std::string> names;
  for (const ArchSpec* spec : all_architectures()) names.insert(spec->name);
  for (const char* required : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"})
    EXPECT_TRUE(names.count(required)) << required;
}

TEST(ArchSpec, EveryTableIsWiredCompletely) {
  for (const ArchSpec* spec : all_architectures()) {
    SCOPED_TRACE(spec->name);
    const bool fused_qkv = spec->find_linear(LinearRole::FusedQkv) != nullptr;
    EXPECT_EQ(fused_qkv, spec->find_linear(LinearRole::Query) == nullptr);
    if (!fused_qkv) {
      EXPECT_NE(spec->find_linear(LinearRole::Key), nullptr);
      EXPECT_NE(spec->find_linear(LinearRole::Value), nullptr);
    }
    EXPECT_NE(spec->find_linear(LinearRole::Output), nullptr);
    EXPECT_NE(spec->find_linear(LinearRole::Down), nullptr);
    const bool fused_gate_up = spec->find_linear(LinearRole::FusedGateUp) != nullptr;
    EXPECT_EQ(fused_gate_up, spec->find_linear(LinearRole::Gate) == nullptr);
    EXPECT_NE(spec->find_norm(NormRole::BeforeAttention), nullptr);
    EXPECT_NE(spec->find_norm(NormRole::BeforeMlp), nullptr);
    std::set<std::string> modules, ggufs;
    for (const LinearSpec& l : spec->linears) {
      const bool attention = l.role == LinearRole::Query || l.role == LinearRole::Key || l.role == LinearRole::Value ||
                             l.role == LinearRole::FusedQkv || l.role == LinearRole::Output;
      EXPECT_TRUE(starts_with(l.module, attention ? "self_attn." : "mlp.")) << l.module;
      EXPECT_TRUE(modules.insert(l.module).second) << "duplicate " << l.module;
      EXPECT_TRUE(ggufs.insert(l.gguf).second) << "duplicate " << l.gguf;
    }
    for (const NormSpec& n : spec->norms) {
      const bool head = n.role == NormRole::QueryHeads || n.role == NormRole::KeyHeads;
      EXPECT_EQ(head, starts_with(n.module, "self_attn.")) << n.module;
      if (!head) {
        EXPECT_EQ(n.module.find('.'), std::string::npos) << n.module;
      }
      EXPECT_TRUE(modules.insert(n.module).second) << "duplicate " << n.module;
      EXPECT_TRUE(ggufs.insert(n.gguf).second) << "duplicate " << n.gguf;
    }
  }
}

TEST(ArchSpec, LookupByEveryName) {
  EXPECT_EQ(find_architecture("Qwen2ForCausalLM")->name, "qwen2");
  EXPECT_EQ(find_architecture("gemma3_text")->name, "gemma3");
  EXPECT_EQ(find_architecture("phi3")->name, "phi3");
  EXPECT_EQ(find_architecture("MistralForCausalLM")->name, "mistral");
  EXPECT_EQ(find_architecture("GPT2LMHeadModel"), nullptr);
}

TEST(ArchSpec, UnknownArchitectureListsTheSupportedOnes) {
  try {
    require_architecture("GPT2LMHeadModel", "config.json");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("config.json"), std::string::npos);
    EXPECT_NE(message.find("GPT2LMHeadModel"), std::string::npos);
    for (const ArchSpec* spec : all_architectures()) EXPECT_NE(message.find(spec->name), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace tailor::models
