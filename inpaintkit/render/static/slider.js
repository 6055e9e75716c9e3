/* inpaintkit before/after sliders: no dependencies, no network.
 *
 * Markup (written by inpaintkit.render):
 *   <figure class="ba">
 *     <div class="ba-frame"><img class="ba-before"><img class="ba-after"></div>
 *     <input type="range" class="ba-range" min="0" max="100" value="50">
 *   </figure>
 * The "after" image lies over the "before" one and is clipped with CSS clip-path so
 * that the part right of the split shows the result, the part left of it the input.
 * Figures are wired on load; for figures added later, call window.inpaintkitAttachSliders().
 */
(function () {
  "use strict";

  function setSplit(figure, value) {
    var after = figure.querySelector(".ba-after");
    var percent = Math.max(0, Math.min(100, Number(value))) + "%";
    after.style.clipPath = "inset(0 0 0 " + percent + ")";
    figure.style.setProperty("--split", percent);
  }

  // With the "move all sliders together" box ticked, one slider moves every other.
  function syncing() {
    var box = document.getElementById("sync-sliders");
    return box !== null && box.checked;
  }

  function spread(source, value) {
    if (!syncing()) {
      return;
    }
    var figures = document.querySelectorAll("figure.ba");
    for (var i = 0; i < figures.length; i++) {
      if (figures[i] !== source) {
        var range = figures[i].querySelector(".ba-range");
        if (range) {
          range.value = value;
        }
        setSplit(figures[i], value);
      }
    }
  }

  function attach(figure) {
    var range = figure.querySelector(".ba-range");
    var frame = figure.querySelector(".ba-frame");
    if (!range || !frame || figure.getAttribute("data-ba-ready") === "1") {
      return;
    }
    figure.setAttribute("data-ba-ready", "1");
    range.addEventListener("input", function () {
      setSplit(figure, range.value);
      spread(figure, range.value);
    });
    // Dragging on the picture moves the split too.
    var dragging = false;
    function follow(event) {
      var box = frame.getBoundingClientRect();
      if (box.width <= 0) {
        return;
      }
      var value = Math.round(1000 * (event.clientX - box.left) / box.width) / 10;
      range.value = value;
      setSplit(figure, range.value);
      spread(figure, range.value);
    }
    frame.addEventListener("pointerdown", function (event) {
      dragging = true;
      if (frame.setPointerCapture) {
        frame.setPointerCapture(event.pointerId);
      }
      follow(event);
    });
    frame.addEventListener("pointermove", function (event) {
      if (dragging) {
        follow(event);
      }
    });
    frame.addEventListener("pointerup", function () {
      dragging = false;
    });
    frame.addEventListener("pointercancel", function () {
      dragging = false;
    });
    setSplit(figure, range.value);
  }

  function init() {
    var figures = document.querySelectorAll("figure.ba");
    for (var i = 0; i < figures.length; i++) {
      attach(figures[i]);
    }
  }

  // Pages that add figures later (the web UI) call this again; it skips wired ones.
  window.inpaintkitAttachSliders = init;

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
