// Text a session keeps (an MQTT client id, a registered id) without an
// allocation in the usual case: up to Inline bytes are held in place, longer
// text on the heap. Always NUL-terminated, for the broker's C API and logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace keyauth::mqtt {

template <std::size_t Inline>
class InlineText {
  public:
    InlineText() noexcept { inline_[0] = '\0'; }
    InlineText(std::string_view text) { assign(text); }
    InlineText(const char* text) : InlineText(std::string_view(text)) {}
    InlineText(const std::string& text) : InlineText(std::string_view(text)) {}
    InlineText(const InlineText& other) { assign(other.view()); }
    InlineText(InlineText&& other) noexcept { take(other); }
    InlineText& operator=(const InlineText& other) {
        if (this != &other)
            assign(other.view());
        return *this;
    }
    InlineText& operator=(InlineText&& other) noexcept {
        if (this != &other)
            take(other);
        return *this;
    }
    ~InlineText() = default;

    const char* c_str() const noexcept { return heap_ ? heap_.get() : inline_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {c_str(), size_}; }
    operator std::string_view() const noexcept { return view(); }

  private:
    // Allocates only for text longer than Inline; text may point into *this.
    void assign(std::string_view text) {
        if (text.size() <= Inline) {
            std::memmove(inline_, text.data(), text.size());
            inline_[text.size()] = '\0';
            heap_.reset();
        } else {
            std::unique_ptr<char[]> copy(new char[text.size() + 1]);
            std::memcpy(copy.get(), text.data(), text.size());
            copy[text.size()] = '\0';
            heap_ = std::move(copy);
        }
        size_ = text.size();
    }
    void take(InlineText& other) noexcept {
        heap_ = std::move(other.heap_);
        size_ = other.size_;
        if (!heap_)
            std::memcpy(inline_, other.inline_, sizeof inline_);  // fixed: no call
        other.size_ = 0;
        other.inline_[0] = '\0';
    }

    std::unique_ptr<char[]> heap_;  // the text when longer than Inline
    std::size_t size_ = 0;
    char inline_[Inline + 1];
};

}  // namespace keyauth::mqtt
