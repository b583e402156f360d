// Form behaviour the templates ask for with data- attributes (no inline handlers: the CSP forbids them).
//   <form data-confirm="Really?">   asks before submitting
//   <select data-autosubmit>        submits its form when changed
//   <form data-nosubmit>            never submits (a script handles its inputs)
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-nosubmit")) {
      event.preventDefault();
      return;
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });
})();
