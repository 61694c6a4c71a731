/* Datatrust's map of where recordings are wanted (/map). The page is a list that reads
   without JavaScript; this script offers the same places on a map, drawn only when asked
   (Leaflet and h3-js, vendored under /static/vendor, about 110 KB compressed): each place
   is its H3 cell, drawn by h3-js, with a dot and its name at the centre so a cell of a few
   hundred metres still shows when the map spans several countries. The background is
   blank unless the operator named a tile server (data-tiles); nothing is fetched from
   another site otherwise. */
(function () {
  "use strict";
  var box = document.getElementById("map-box");
  if (!box || !window.JSON || !window.Promise) return;
  var cells = JSON.parse(box.dataset.cells || "[]");
  var button = document.getElementById("map-show");
  var status = document.getElementById("map-status");
  var VENDOR = "/static/vendor/";
  var WANTED = { color: "#0b5c3f", fillColor: "#2fbf71", fillOpacity: 0.45, weight: 2 };
  var RECORDED = { color: "#4a4a4a", fillColor: "#9a9a9a", fillOpacity: 0.4, weight: 1 };
  box.hidden = false;

  function load(tag, attrs) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement(tag);
      Object.keys(attrs).forEach(function (k) { el[k] = attrs[k]; });
      el.onload = resolve;
      el.onerror = reject;
      document.head.appendChild(el);
    });
  }

  function draw() {
    var L = window.L, h3 = window.h3;
    var el = document.getElementById("map");
    el.hidden = false;
    document.getElementById("map-legend").hidden = false;
    var map = L.map(el, { zoomControl: false, attributionControl: false });
    L.control.zoom({ zoomInTitle: box.dataset.zoomIn, zoomOutTitle: box.dataset.zoomOut }).addTo(map);
    if (box.dataset.tiles) {
      L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution }).addTo(map);
      L.control.attribution({ prefix: false }).addTo(map);
    }
    var rings = cells.map(function (c) { return h3.cellToBoundary(c.cell); });
    // The view opens on the places that still pay a bonus (all places when none does); the
    // others are a pan or a zoom away. Leaflet needs a view before it draws anything.
    var bounds = L.latLngBounds([]);
    var anyWanted = cells.some(function (c) { return c.wanted; });
    rings.forEach(function (ring, i) {
      if (cells[i].wanted || !anyWanted) bounds.extend(L.latLngBounds(ring));
    });
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 12 });
    cells.forEach(function (c, i) {
      var style = c.wanted ? WANTED : RECORDED;
      var cell = L.polygon(rings[i], Object.assign({ interactive: false }, style)).addTo(map);
      cell.getElement().setAttribute("data-cell", c.wanted ? "wanted" : "recorded");
      L.circleMarker(h3.cellToLatLng(c.cell), Object.assign({ radius: 6, interactive: false }, style))
        .addTo(map)
        .bindTooltip(c.label, { permanent: true, direction: "auto", className: "place-label" });
    });
    box.dataset.drawn = String(cells.length);
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    Promise.all([
      load("link", { rel: "stylesheet", href: VENDOR + "leaflet/leaflet.css" }),
      load("script", { src: VENDOR + "leaflet/leaflet.js" }),
      load("script", { src: VENDOR + "h3-js/h3-js.umd.js" })
    ]).then(function () {
      draw();
      button.hidden = true;
    }).catch(function (err) {
      if (window.console) console.error(err);
      status.textContent = box.dataset.failed;
      button.disabled = false;
    });
  });
})();
